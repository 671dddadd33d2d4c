# Recipe candidate r1 (issue 12 item 3 search; not to be merged as is):
# the tree config with a 15-epoch no-augmentation phase (Megvii's 15/300)
# and an EMA that really averages (window ~1/momentum = 100 iterations,
# ~11 epochs, instead of ~2 iterations at the end of 1800 with gamma 2000).
_base_ = '../configs/yolox_nano_1xb4-200e_deepforest.py'

max_epochs = 200
num_last_epochs = 15
warmup_epochs = 3
base_lr = 0.01
ema_momentum = 0.01
ema_gamma = 100

train_cfg = dict(max_epochs=max_epochs, val_interval=25)
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
    dict(type='YOLOXModeSwitchHook', num_last_epochs=num_last_epochs,
         priority=48),
    dict(type='SyncNormHook', priority=48),
    dict(type='EMAHook', ema_type='ExpMomentumEMA', momentum=ema_momentum,
         gamma=ema_gamma, update_buffers=True, priority=49),
    dict(type='DeterministicResumeHook')
]
default_hooks = dict(checkpoint=dict(interval=25))
