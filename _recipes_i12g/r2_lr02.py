# Recipe candidate r2 (issue 12 item 3 search; not to be merged as is):
# the tree config with lr 0.02 (the model under-fits its own training
# tiles: mAP@0.5 0.39-0.44 on train at epoch 200) and NHWC training
# (ChannelsLastHook, 1.19x an iteration at 1 thread); evaluations every
# 25 epochs (they do not change training: DeterministicResumeHook).
_base_ = '../configs/yolox_nano_1xb4-200e_deepforest.py'

max_epochs = 200
num_last_epochs = 50
warmup_epochs = 3
base_lr = 0.02

train_cfg = dict(val_interval=25)
optim_wrapper = dict(optimizer=dict(lr=base_lr))
param_scheduler = [
    dict(type='QuadraticWarmupLR', by_epoch=True, begin=0,
         end=warmup_epochs, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=base_lr * 0.05,
         begin=warmup_epochs,
         T_max=max_epochs - num_last_epochs - warmup_epochs,
         end=max_epochs - num_last_epochs, by_epoch=True,
         convert_to_iter_based=True),
    dict(type='ConstantLR', by_epoch=True, factor=1,
         begin=max_epochs - num_last_epochs, end=max_epochs)
]
custom_hooks = [
    dict(type='ChannelsLastHook'),
    dict(type='YOLOXModeSwitchHook', num_last_epochs=num_last_epochs,
         priority=48),
    dict(type='SyncNormHook', priority=48),
    dict(type='EMAHook', ema_type='ExpMomentumEMA', momentum=0.0002,
         update_buffers=True, priority=49),
    dict(type='DeterministicResumeHook')
]
