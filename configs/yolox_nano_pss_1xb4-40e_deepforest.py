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
from yolox_mm.utils.config_deltas import (  # noqa: E402
    set_fields, yolox_lr_schedule)

load_from = 'work_dirs/yolox_nano_1xb4-200e_deepforest/epoch_200.pth'
max_epochs = 40
num_last_epochs = 10
warmup_epochs = 1
base_lr = 0.01
val_interval = max_epochs  # evaluate and save once, at the end

train_cfg = dict(max_epochs=max_epochs, val_interval=val_interval)
optim_wrapper = dict(optimizer=dict(lr=base_lr))
# the YOLOX schedule at these lengths, with a linear warm-up from 0.1 x lr
# instead of the quadratic one
param_scheduler = yolox_lr_schedule(max_epochs, num_last_epochs, warmup_epochs,
                                    base_lr)
param_scheduler[0] = dict(type='LinearLR', start_factor=0.1, by_epoch=True,
                          begin=0, end=warmup_epochs,
                          convert_to_iter_based=True)
custom_hooks = [dict(type='FreezeExceptHook')] + set_fields(
    _base_.custom_hooks, 'YOLOXModeSwitchHook',
    num_last_epochs=num_last_epochs)
default_hooks = dict(checkpoint=dict(interval=val_interval))
