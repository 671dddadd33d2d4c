"""The module a deploy config names in ``codebase_config.module``.

mmdeploy imports the modules of that list in every process that converts,
including the processes that its ``tools/deploy.py`` spawns. Loading this
module does two things there, and both are asked for by that config line:

1. It registers our rewriters (:mod:`yolox_mm.deploy.mmdeploy_rewriters`).
   They act only inside mmdeploy's export.
2. It installs safe checkpoint loading
   (:func:`yolox_mm.utils.install_safe_checkpoint_loading`). mmdeploy builds
   the PyTorch model with mmengine's ``load_checkpoint``
   (``mmdeploy/codebase/base/task.py``, ``build_pytorch_model``). Since
   torch 2.6, ``torch.load`` is ``weights_only`` by default, so that call
   refuses the checkpoints that mmengine's Runner writes: they hold a
   ``MessageHub`` with ``HistoryBuffer`` and numpy values. This step
   allow-lists only those types.

``import yolox_mm`` and ``import yolox_mm.deploy`` never import this module.
"""
from yolox_mm.utils.checkpoint import install_safe_checkpoint_loading

from . import mmdeploy_rewriters  # noqa: F401  (registration)

install_safe_checkpoint_loading()
