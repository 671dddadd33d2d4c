# Runtime shared by every yolox_mm config.
# Unprefixed types resolve in yolox_mm first, then in mmdet and mmengine.
default_scope = 'yolox_mm'
custom_imports = dict(imports=['yolox_mm'], allow_failed_imports=False)

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # mmengine's CheckpointHook, but a crash while saving never leaves a
    # truncated or missing last checkpoint (docs/distributed.md)
    checkpoint=dict(
        type='AtomicCheckpointHook', interval=10, max_keep_ckpts=3),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='DetVisualizationHook'),
    # stop at the first NaN/inf loss, naming the iteration and the batch's
    # images, before EMA and checkpoints take the broken weights
    # (docs/reliability.md); disable with check_finite_loss=None
    check_finite_loss=dict(type='CheckFiniteLossHook'))

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'))

vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(
    type='DetLocalVisualizer', vis_backends=vis_backends, name='visualizer')
log_processor = dict(type='LogProcessor', window_size=50, by_epoch=True)

log_level = 'INFO'
load_from = None
resume = False
