"""Train with the model's 4-d parameters stored as NHWC
(``torch.channels_last``): oneDNN convolutions then run in NHWC and keep
their activations (and gradients) in it. On the 2-core AVX-512 CPU of the
README it made the YOLOX-nano tree iteration 1.20x faster at 1 thread and
1.08x at 2 threads on a loaded machine (docs/_readme_i12g.md); results
differ from NCHW only by float rounding.

Not conv+BN fusion: the model trained is the same model.
"""
import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from yolox_mm.registry import HOOKS


@HOOKS.register_module()
class ChannelsLastHook(Hook):
    """Convert the model to ``torch.channels_last`` in ``before_run``.

    ``priority='VERY_HIGH'`` so that it runs before ``EMAHook`` (49)
    copies the model in its own ``before_run``: the EMA copy is NHWC too.
    Parameters keep their identity (``Module.to`` replaces ``.data``), so
    the optimizer, already built, keeps updating them. Checkpoints hold the
    same values as NCHW ones (layout is not saved as a difference a
    ``load_state_dict`` can see).
    """

    priority = 'VERY_HIGH'

    def before_run(self, runner) -> None:
        model = runner.model
        if is_model_wrapper(model):
            model = model.module
        model.to(memory_format=torch.channels_last)
