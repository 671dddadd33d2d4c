# Selector-only training ("two-step" PSS) on the main job's trained model:
# load a YOLOX-Nano tree checkpoint (only the selector's keys are missing),
# freeze everything else (FreezeExceptHook: no gradient, BN statistics
# frozen) and train the selector of YOLOXPSSHead for 40 epochs (360
# iterations; 150 epochs measured no better on the tree split,
# docs/end_to_end.md).
#   tools/train.py configs/yolox_nano_pss_1xb4-40e_deepforest.py \
#       --cfg-options \
#       load_from=work_dirs/yolox_nano_1xb4-200e_deepforest/epoch_200.pth
_base_ = './yolox_nano_e2e_1xb4-200e_deepforest.py'

load_from = 'work_dirs/yolox_nano_1xb4-200e_deepforest/epoch_200.pth'
max_epochs = 40
num_last_epochs = 10
base_lr = 0.01

train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0, end=1,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=base_lr * 0.05, begin=1,
         T_max=max_epochs - num_last_epochs - 1,
         end=max_epochs - num_last_epochs, by_epoch=True,
         convert_to_iter_based=True),
    dict(type='ConstantLR', by_epoch=True, factor=1,
         begin=max_epochs - num_last_epochs, end=max_epochs)
]
custom_hooks = [
    dict(type='FreezeExceptHook'),
    dict(type='YOLOXModeSwitchHook', num_last_epochs=num_last_epochs,
         priority=48),
    dict(type='SyncNormHook', priority=48),
    dict(type='EMAHook', ema_type='ExpMomentumEMA', momentum=0.0002,
         update_buffers=True, priority=49),
    dict(type='DeterministicResumeHook')
]
default_hooks = dict(checkpoint=dict(interval=max_epochs))
