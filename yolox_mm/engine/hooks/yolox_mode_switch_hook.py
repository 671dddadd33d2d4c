"""Switch YOLOX to its final "no strong augmentation + L1 loss" stage."""
from typing import Sequence

from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper

from yolox_mm.registry import HOOKS


@HOOKS.register_module()
class YOLOXModeSwitchHook(Hook):
    """Turn off Mosaic/RandomAffine/MixUp and turn on the L1 loss at the end.

    **When.** In ``before_train_epoch`` of every epoch with
    ``runner.epoch >= runner.max_epochs - num_last_epochs`` (``runner.epoch``
    is 0-based), i.e. for exactly the last ``num_last_epochs`` epochs: with
    300 epochs and 15, the epochs with 0-based index 285..299 (286..300 in
    the 1-based training log), so the no-aug stage and the constant-LR
    phase of the schedule (the last ``num_last_epochs`` epochs in the
    configs) cover exactly the same epochs. mmdet 3.3.0 and official YOLOX
    switch one epoch earlier: ``docs/differences_from_mmdet.md``,
    "YOLOXModeSwitchHook".

    **Resume-safe.** Nothing is stored in the checkpoint: the decision is
    derived from ``runner.epoch`` at every epoch, so a run resumed past the
    boundary (a new hook, a new dataset) switches at its first epoch. The
    switch is applied once per hook instance (idempotent afterwards).

    **What switching does.**

    1. ``runner.train_dataloader.dataset.update_skip_type_keys(
       skip_type_keys)``: the wrapper
       (:class:`~yolox_mm.datasets.YOLOXMixImageDataset` or mmdet's
       ``MultiImageMixDataset``) skips those transforms from now on.
    2. Only if the dataset cannot update running workers
       (``supports_live_skip`` is missing or False, e.g. mmdet's
       ``MultiImageMixDataset``, whose skip keys are a plain attribute
       copied into every worker when it starts) and the loader keeps its
       workers (``persistent_workers=True``): the loader's worker iterator
       is dropped so that the next epoch starts new workers, which copy the
       updated dataset. ``YOLOXMixImageDataset`` keeps its skip flags in
       shared memory, so its workers keep running.
    3. ``bbox_head.set_l1(True)`` on the model (unwrapped from DDP & co.
       with :func:`mmengine.model.is_model_wrapper`; mmdet's ``YOLOXHead``,
       which has no ``set_l1``: ``use_l1 = True``): the head adds the L1
       loss on the encoded box targets.
    4. One log line with the epoch.

    Args:
        num_last_epochs: Number of final epochs in the no-aug + L1 stage.
            Defaults to 15.
        skip_type_keys: Type names of the transforms to turn off.
            Defaults to ``('Mosaic', 'RandomAffine', 'MixUp',
            'FusedMosaicAffineMixUp')``: the strong augmentation as three
            transforms or as the fused one in a pipeline list (a wrapper
            with ``fuse=True`` lists the three and falls back to them when
            they are skipped). Names that no transform has are ignored.
    """

    # Before the default hooks of NORMAL (50) priority, as in mmdet configs;
    # a ``priority`` in the hook config still overrides it.
    priority = 48

    def __init__(
        self,
        num_last_epochs: int = 15,
        skip_type_keys: Sequence[str] = ('Mosaic', 'RandomAffine', 'MixUp',
                                         'FusedMosaicAffineMixUp')
    ) -> None:
        if not isinstance(num_last_epochs, int) or num_last_epochs < 0:
            raise ValueError('num_last_epochs must be an int >= 0, but '
                             f'received {num_last_epochs!r}')
        if isinstance(skip_type_keys, str) or not all(
                isinstance(key, str) for key in skip_type_keys):
            raise TypeError('skip_type_keys must be a sequence of str, but '
                            f'received {skip_type_keys!r}')
        self.num_last_epochs = num_last_epochs
        self.skip_type_keys = tuple(skip_type_keys)
        self._has_switched = False

    def is_switch_epoch(self, epoch: int, max_epochs: int) -> bool:
        """Whether 0-based ``epoch`` is one of the last ``num_last_epochs``."""
        return epoch >= max_epochs - self.num_last_epochs

    def before_train_epoch(self, runner) -> None:
        """Switch if ``runner.epoch`` is in the final stage; see the class."""
        if self._has_switched or not self.is_switch_epoch(
                runner.epoch, runner.max_epochs):
            return
        self._switch_pipeline(runner.train_dataloader)
        self._switch_loss(runner.model)
        self._has_switched = True
        print_log(
            f'YOLOXModeSwitchHook: epoch {runner.epoch + 1}/'
            f'{runner.max_epochs} (1-based) starts the last '
            f'{self.num_last_epochs} epochs: skipping '
            f'{list(self.skip_type_keys)}, L1 loss on.',
            logger=runner.logger)

    def _switch_pipeline(self, loader) -> None:
        if not self.skip_type_keys:
            return
        dataset = loader.dataset
        if not hasattr(dataset, 'update_skip_type_keys'):
            raise TypeError(
                'YOLOXModeSwitchHook needs a train dataset with '
                'update_skip_type_keys (YOLOXMixImageDataset or mmdet '
                f'MultiImageMixDataset), but received {type(dataset)}')
        dataset.update_skip_type_keys(self.skip_type_keys)
        if (not getattr(dataset, 'supports_live_skip', False)
                and getattr(loader, 'persistent_workers', False)
                and getattr(loader, 'num_workers', 0) > 0):
            # Persistent workers hold their own copy of the dataset, made
            # when they started, so they would never see the new skip keys.
            # torch has no public API to restart them: ``DataLoader.__iter__``
            # builds a new worker iterator (new workers, copying the current
            # dataset) only when ``_iterator`` is None. Dropping the old
            # iterator shuts its idle workers down (its ``__del__``). Unlike
            # mmdet we need not touch ``_DataLoader__initialized``:
            # ``__setattr__`` only guards the sampler/batch attributes.
            loader._iterator = None

    @staticmethod
    def _switch_loss(model) -> None:
        if is_model_wrapper(model):
            model = model.module
        head = getattr(model, 'bbox_head', None)
        if callable(getattr(head, 'set_l1', None)):
            head.set_l1(True)
        elif hasattr(head, 'use_l1'):  # mmdet 3.x YOLOXHead: attribute only
            head.use_l1 = True
        else:
            raise TypeError(
                'YOLOXModeSwitchHook needs a detector with bbox_head.set_l1 '
                "(yolox_mm's YOLOX) or bbox_head.use_l1 (mmdet's), but "
                f'received {type(model)}')
