# YOLOX-DarkNet53 (paper section 2.1 / Table 2, 47.3 AP val; Megvii
# exps/default/yolov3.py, re-trained weights 47.7 AP): YOLOv3's Darknet-53
# with the SPP block and the YOLOv3 FPN, turned into YOLOX (decoupled head,
# anchor-free, SimOTA). LeakyReLU(0.1) everywhere; 63,724,767 parameters at
# 80 classes (backbone 52,651,744, neck 3,692,544 + the head's stems in
# neck.out_convs, head 7,380,479 with the stems). Megvii's recipe for it is
# yolox_base.py's, i.e. the large-model one of yolox_l: Mosaic + MixUp,
# scale 0.1-2, multi-scale 480-800, 300 epochs; nothing to change here.
_base_ = './yolox_l_8xb8-300e_coco.py'

leaky_relu = dict(type='LeakyReLU')  # slope 0.1
model = dict(
    backbone=dict(
        _delete_=True,
        type='Darknet',
        depth=53,
        out_indices=(2, 3, 4),
        norm_cfg=dict(type='BN', momentum=0.03, eps=0.001),
        act_cfg=leaky_relu),
    neck=dict(
        _delete_=True,
        type='YOLOFPN',
        in_channels=[256, 512, 512],
        out_channels=256,
        norm_cfg=dict(type='BN', momentum=0.03, eps=0.001),
        act_cfg=leaky_relu),
    bbox_head=dict(act_cfg=leaky_relu))
