# The YOLOX schedule (paper section 2.1 "Implementation details"; Megvii
# yolox/exp/yolox_base.py): 300 epochs, SGD lr 0.01 per 64 images, momentum
# 0.9 (Nesterov), weight decay 5e-4 on conv weights only, 5 epochs of
# quadratic warm-up, cosine to 0.05 * lr, constant for the last 15 epochs,
# which are also the epochs without Mosaic/MixUp and with the L1 loss.
# A child that changes a knob below derives what depends on it again
# (configs/README.md; yolox_nano_1xb4-200e_deepforest.py does).
_base_ = []  # none; the line makes mmengine read an importing file old-style
from yolox_mm.utils.config_deltas import yolox_lr_schedule  # noqa: E402

max_epochs = 300
num_last_epochs = 15
warmup_epochs = 5
base_lr = 0.01
val_interval = 10

train_cfg = dict(
    type='EpochBasedTrainLoop',
    max_epochs=max_epochs,
    val_interval=val_interval,
    # evaluate every epoch once the strong augmentation is off (Megvii)
    dynamic_intervals=[(max_epochs - num_last_epochs, 1)])
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(
        type='SGD', lr=base_lr, momentum=0.9, weight_decay=5e-4,
        nesterov=True),
    paramwise_cfg=dict(norm_decay_mult=0., bias_decay_mult=0.))

param_scheduler = yolox_lr_schedule(max_epochs, num_last_epochs, warmup_epochs,
                                    base_lr)

custom_hooks = [
    dict(
        type='YOLOXModeSwitchHook',
        num_last_epochs=num_last_epochs,
        priority=48),
    dict(type='SyncNormHook', priority=48),
    # momentum 0.0002 = Megvii's ModelEMA(model, 0.9998) exactly
    # (yolox/core/trainer.py; mmdet's configs use 0.0001, decay 0.9999)
    dict(
        type='EMAHook',
        ema_type='ExpMomentumEMA',
        momentum=0.0002,
        update_buffers=True,
        priority=49),
    # reseed every epoch and keep BatchSyncRandomResize's size in the
    # checkpoint: a resumed run repeats the uninterrupted one exactly
    # (docs/distributed.md)
    dict(type='DeterministicResumeHook')
]

# lr 0.01 is for 8 GPUs x 8 images; `tools/train.py --auto-scale-lr`
# scales it to the real total batch size.
auto_scale_lr = dict(enable=False, base_batch_size=64)
