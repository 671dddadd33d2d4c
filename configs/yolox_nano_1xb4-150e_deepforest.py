# The main job of the README (`make trees`): the tree recipe of
# yolox_nano_1xb4-200e_deepforest.py cut to 150 epochs (1350 iterations
# instead of 1800), aiming at training + evaluation in 12 minutes on a
# 2-core CPU (met only when the VM runs at <= ~0.48 s an iteration).
# The last 15 epochs (no Mosaic, L1 loss, constant lr) and the 3 warm-up
# epochs are kept; the cosine phase is 132 epochs instead of 182.
# Seeds 0/1/2 and their timings: docs/tree_recipe.md (2026-12-03).
_base_ = './yolox_nano_1xb4-200e_deepforest.py'
from yolox_mm.utils.config_deltas import yolox_lr_schedule  # noqa: E402

max_epochs = 150

train_cfg = dict(max_epochs=max_epochs)
param_scheduler = yolox_lr_schedule(max_epochs, _base_.num_last_epochs,
                                    _base_.warmup_epochs, _base_.base_lr)
