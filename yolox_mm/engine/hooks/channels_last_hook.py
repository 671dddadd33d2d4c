"""Train with the model's 4-d parameters stored as NHWC
(``torch.channels_last``): oneDNN convolutions then run in NHWC and keep
their activations (and gradients) in it. On the 2-core AVX-512 CPU of the
README it made the YOLOX-nano tree iteration 1.20x faster at 1 thread and
1.08x at 2 threads on a loaded machine (docs/tree_recipe.md); results
differ from NCHW only by float rounding.

Not conv+BN fusion: the model trained is the same model.

Opt-in (``custom_hooks += [dict(type='ChannelsLastHook')]``), not used by
any shipped config: under DDP (``tools/dist_train.sh``) a resumed run is
then **not** bitwise equal to the uninterrupted one
(``tests/test_tools/test_dist_resume.py`` with this hook: every tensor
differs; without it: none). The hook converts the model after DDP has
built its gradient buckets from the NCHW parameters. Single-process resume
stays exact (``tests/test_engine/test_resume.py``). The hook logs a warning
when the model is wrapped.
"""
import torch
from mmengine.hooks import Hook
from mmengine.logging import print_log
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
            print_log('ChannelsLastHook under a model wrapper (DDP): training '
                      'works, but a resumed run is not bitwise equal to an '
                      'uninterrupted one', logger='current', level=30)
            model = model.module
        model.to(memory_format=torch.channels_last)
