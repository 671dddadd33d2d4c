"""Stop training at the first non-finite loss, naming the batch."""
import math
from typing import Dict, List, Optional

import torch
from mmengine.dist import all_reduce, get_rank, get_world_size
from mmengine.hooks import Hook

from yolox_mm.registry import HOOKS


def non_finite_losses(outputs: Optional[dict]) -> Dict[str, float]:
    """The loss terms of ``outputs`` that are NaN or infinite.

    Args:
        outputs: What ``model.train_step`` returned: mmengine's ``log_vars``
            (``loss``, the total that was back-propagated, and its terms).
            Entries whose name contains ``'loss'`` are checked, as mmengine
            sums exactly those.

    Returns:
        dict[str, float]: name -> value of every non-finite term.
    """
    bad = {}
    for name, value in (outputs or {}).items():
        if 'loss' not in name:
            continue
        value = float(value.detach()) if isinstance(value,
                                                    torch.Tensor) else value
        if isinstance(value, float) and not math.isfinite(value):
            bad[name] = value
    return bad


def batch_images(data_batch) -> List[str]:
    """``'img_id: img_path'`` of every sample of ``data_batch`` (from the
    data samples' meta information)."""
    samples = (data_batch or {}).get('data_samples') or []
    return [
        f"{s.metainfo.get('img_id', '?')}: {s.metainfo.get('img_path', '?')}"
        for s in samples
    ]


@HOOKS.register_module()
class CheckFiniteLossHook(Hook):
    """Stop training at the first iteration whose loss is NaN or infinite.

    Checked after every training iteration, before the hooks that would
    keep the result (``priority='VERY_HIGH'``): ``EMAHook`` (priority 49
    in our configs) does not average the broken weights and
    ``CheckpointHook`` does not save them, so the last checkpoint on disk
    stays the last good state.
    Training *stops* rather than skipping the batch: the hook sees the loss
    after the optimizer step has already run (mmengine's ``train_step``),
    so the weights in memory may already be non-finite, and a skipped batch
    would hide a data or learning-rate problem. With AMP
    (``AmpOptimWrapper``) inf/NaN *gradients* of an overflowing fp16 step
    are skipped by the gradient scaler as usual; a non-finite *loss* still
    stops.

    In distributed training every rank learns whether any rank's loss was
    non-finite (one ``all_reduce`` of ``world_size`` flags every iteration,
    on every rank, so ranks cannot diverge) and all ranks stop at the same
    iteration; otherwise the ranks with a finite loss would go on to save a
    checkpoint with the broken weights averaged in. Each rank names its own
    batch.

    The message names the iteration (1-based, as in the log), the epoch and
    batch, the non-finite terms, ``img_id: img_path`` of every sample of the
    batch (``PackDetInputs`` meta keys; with Mosaic/MixUp a sample also
    holds other images, which are not recorded) and the last checkpoint
    saved, to resume from.

    Raises:
        FloatingPointError: from ``after_train_iter``, as described.
    """

    priority = 'VERY_HIGH'

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch=None,
                         outputs: Optional[dict] = None) -> None:
        """Raise if this or another rank's loss is not finite."""
        bad = non_finite_losses(outputs)
        bad_ranks = self._ranks_with_non_finite_loss(bool(bad))
        if not bad_ranks:
            return
        rank = get_rank()
        where = (f'iteration {runner.iter + 1} (epoch {runner.epoch + 1}, '
                 f'batch {batch_idx + 1} of the epoch)')
        if bad:
            terms = ', '.join(f'{k}={v}' for k, v in bad.items())
            on_rank = f' on rank {rank}' if get_world_size() > 1 else ''
            head = f'Non-finite loss at {where}{on_rank}: {terms}.'
        else:
            head = (f'Non-finite loss at {where} on rank(s) {bad_ranks}; '
                    f'this rank ({rank}) had finite losses.')
        images = batch_images(data_batch)
        last_ckpt = runner.message_hub.get_info('last_ckpt')
        raise FloatingPointError(
            f'{head} Training stopped: the optimizer step of this iteration '
            'may already have written non-finite values into the weights, '
            'so nothing is saved from here on. Images of the batch on this '
            f'rank (img_id: img_path): {images or "unknown"}. '
            + (f'Last checkpoint, to resume from: {last_ckpt}. '
               if last_ckpt else 'No checkpoint was saved in this run. ')
            + 'Common causes: a learning rate too high for the batch size, '
            'bad data in these images, more metainfo classes than '
            'bbox_head.num_classes.')

    @staticmethod
    def _ranks_with_non_finite_loss(local_bad: bool) -> List[int]:
        world_size = get_world_size()
        if world_size == 1:
            return [0] if local_bad else []
        flags = torch.zeros(world_size)
        flags[get_rank()] = float(local_bad)
        all_reduce(flags)  # sum; every rank, every iteration
        return flags.nonzero().flatten().tolist()
