"""Train with the model's 4-d parameters stored as NHWC
(``torch.channels_last``): oneDNN convolutions then run in NHWC and keep
their activations (and gradients) in it. On the 2-core CPUs of the
README it made the YOLOX-nano tree iteration 1.20x faster at 1 thread
(AMD EPYC, loaded machine) and 1.23x at 2 threads (Intel Xeon, idle,
interleaved: ``tools/analysis_tools/benchmark.py --sections d --threads 2
--d-scale nano --d-size 416``; docs/tree_recipe.md); results differ from
NCHW only by float rounding.

Not conv+BN fusion: the model trained is the same model.

On in the tree config (``configs/yolox_nano_1xb4-200e_deepforest.py``);
opt-in elsewhere (``custom_hooks += [dict(type='ChannelsLastHook')]``).
Under DDP the conversion must come before the wrap: DDP
builds its gradient buckets from the parameters' layout, and mmengine's
``Runner`` wraps the model before any hook runs. Our launcher
(``tools/train.py``, ``tools/dist_train.sh``) therefore wraps a distributed
run that has this hook with
:class:`~yolox_mm.engine.model_wrappers.ChannelsLastDistributedDataParallel`
(NHWC first), and a resumed run is then bitwise equal to the
uninterrupted one (``tests/test_tools/test_dist_resume.py``, with and
without the hook). Under any other wrapper the hook converts the wrapped
module as before and logs a warning: resume is then not bitwise exact
(every tensor differed in that test). Single-process resume is exact
(``tests/test_engine/test_resume.py``).
"""
import torch
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper

from yolox_mm.registry import HOOKS
from yolox_mm.engine.model_wrappers import ChannelsLastDistributedDataParallel


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
        if isinstance(model, ChannelsLastDistributedDataParallel):
            model = model.module  # already NHWC, before the wrap
        elif is_model_wrapper(model):
            print_log('ChannelsLastHook under a model wrapper (DDP): training '
                      'works, but a resumed run is not bitwise equal to an '
                      'uninterrupted one', logger='current', level=30)
            model = model.module
        model.to(memory_format=torch.channels_last)
