"""Dataset wrapper that feeds multi-image transforms (Mosaic, MixUp)."""
import copy
from collections.abc import Sequence as SequenceABC
from typing import Any, Callable, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmdet.structures.bbox import BaseBoxes
from mmengine.dataset import BaseDataset, force_full_init

from yolox_mm.registry import DATASETS, TRANSFORMS
from yolox_mm.utils.type_name import type_name
from .transforms.twins import with_exact_twin
from .worker_seed import EpochWorkerSeed

# Result keys that transforms modify in place (mmdet ``RandomFlip`` flips
# ``gt_bboxes`` in place; ``RandomCrop`` shifts them in place and may then
# return None). They are small, so each transform gets its own copy.
# Images are not copied: see the class docstring.
_PER_TRANSFORM_COPIED_KEYS = ('gt_bboxes', 'gt_bboxes_labels',
                              'gt_ignore_flags')


def _copy_annotations(results: dict) -> dict:
    """A new dict with the same values, the annotation containers copied."""
    out = dict(results)
    for key in _PER_TRANSFORM_COPIED_KEYS:
        value = out.get(key)
        if isinstance(value, (BaseBoxes, torch.Tensor)):
            out[key] = value.clone()
        elif isinstance(value, np.ndarray):
            out[key] = value.copy()
    return out


def _type_name(transform_cfg: Union[dict, Callable],
               transform: Callable) -> str:
    """The name that ``skip_type_keys`` matches for one pipeline entry.

    ``type`` of a config dict without its scope prefix
    (``'yolox_mm.Mosaic'`` -> ``'Mosaic'``), the class name for a class
    ``type`` (pure-Python configs) or for an already built transform.
    """
    if isinstance(transform_cfg, dict):
        return type_name(transform_cfg['type'])
    return type(transform).__name__


def _fused_transforms(pipeline: Sequence[Union[dict, Callable]]
                      ) -> List[Callable]:
    """The built transforms of ``fuse_pipeline(pipeline)``.

    Raises:
        TypeError: if an entry is not a config dict.
        ValueError: if the pipeline has nothing to fuse (no ``Mosaic``
            directly followed by ``RandomAffine``).
    """
    from .transforms.fused_mosaic import fuse_pipeline
    if not all(isinstance(cfg, dict) for cfg in pipeline):
        raise TypeError('YOLOXMixImageDataset(fuse=True) needs a pipeline of '
                        'config dicts, but received '
                        f'{[type(cfg).__name__ for cfg in pipeline]}')
    return [TRANSFORMS.build(cfg) for cfg in fuse_pipeline(pipeline)]


@DATASETS.register_module()
class YOLOXMixImageDataset:
    """Drop-in replacement for mmdet's ``MultiImageMixDataset``.

    Runs ``pipeline`` on ``dataset[idx]``. Before a transform that has
    ``get_indexes`` (Mosaic, MixUp), it draws the extra indices with
    ``transform.get_indexes(self.dataset)``, loads them through the wrapped
    dataset (``self.dataset[i]``: decode + annotations) and passes them as
    ``results['mix_results']`` (removed again after the transform). If a
    transform returns ``None`` it is re-run (up to ``max_refetch`` times) on
    the same input, as in mmdet. Transforms whose type name is in
    ``skip_type_keys`` are skipped.

    Same constructor, ``metainfo``, ``__len__``, ``get_data_info``,
    ``update_skip_type_keys`` and sequence of random draws as mmdet 3.3.0
    ``MultiImageMixDataset``; how it differs, and why:
    ``docs/differences_from_mmdet.md``, "YOLOXMixImageDataset". The
    contract:

    - **Skip state shared with DataLoader workers.** One ``torch.bool``
      flag per pipeline transform, in shared memory (``share_memory_()``),
      inherited by forked workers and passed as a handle to spawned ones.
      :meth:`update_skip_type_keys` in the main process (by
      ``YOLOXModeSwitchHook``) reaches running workers
      (``persistent_workers=True``); :attr:`supports_live_skip` tells the
      hook. The flag is read once per sample: a batch prefetched before the
      update still has the old pipeline.
    - **Copies.** Each transform gets a new dict with copies of
      ``gt_bboxes``, ``gt_bboxes_labels`` and ``gt_ignore_flags`` (for
      itself and for each ``mix_results`` entry); a retry after ``None``
      starts from the untouched input. Images are shared, not copied: a
      transform that writes into ``results['img']`` in place (mmdet
      ``YOLOXHSVRandomAug`` does) must not then return ``None``, and a
      wrapped dataset that caches decoded images must return a copy.
    - **Workers are reseeded every epoch** after
      :meth:`set_worker_epoch_seed` (called by ``DeterministicResumeHook``
      before every train epoch): ``random``, ``numpy`` and ``torch`` from
      the seed, the epoch, the rank and the worker id
      (:class:`~yolox_mm.datasets.worker_seed.EpochWorkerSeed`), so
      persistent workers and a resumed run draw what a fresh run draws.
    - **Skip keys match type names**: a scope prefix is ignored
      (``'yolox_mm.Mosaic'`` matches ``'Mosaic'``,
      :func:`yolox_mm.utils.type_name`), class ``type``\\ s of pure-Python
      configs match by class name, and keys that name no transform are
      ignored (``'MixUp'`` for the tiny and nano pipelines).
    - Pipeline entries may be configs or built transforms (any callable);
      the wrapped dataset may be any object with ``__len__`` and
      ``__getitem__`` (e.g. mmengine's ``ConcatDataset``). Bad arguments
      raise ``TypeError``/``ValueError`` naming what was received.

    Args:
        dataset: The wrapped dataset or its config.
        pipeline: Transform configs (or transforms), applied in order.
        skip_type_keys: Type names of transforms to skip from the start.
            Defaults to None (skip nothing).
        max_refetch: How often a transform that returned ``None`` and the
            loading of the extra samples are retried before
            ``RuntimeError``. Defaults to 15.
        lazy_init: Defer ``full_init`` of the wrapped dataset.
            Defaults to False.
        exact_twins: Build each config entry that has an exact faster
            twin as that twin
            (:data:`~yolox_mm.datasets.transforms.twins.EXACT_TWINS`:
            ``YOLOXHSVRandomAug``, ``RandomFlip``, ``PackDetInputs``; same
            arguments, random draws and output bit for bit, ~3 ms a 640 x
            640 sample less). ``skip_type_keys`` still match the config's
            names. Defaults to True.
        fuse: Run ``pipeline`` through its fused equivalent
            (:func:`~yolox_mm.datasets.transforms.fuse_pipeline`: one
            :class:`~yolox_mm.datasets.transforms.FusedMosaicAffineMixUp`
            for ``Mosaic, RandomAffine[, MixUp]``, the exact faster twins of
            ``YOLOXHSVRandomAug`` and ``RandomFlip``): the same random
            draws, the same boxes bit for bit, the same pixels within
            interpolation (``docs/fused_pipeline.md``), and ~1.5x the
            samples/s. Only while nothing is skipped: once
            ``skip_type_keys`` names a transform of the pipeline (the mode
            switch of the last epochs), samples go through ``pipeline``
            itself, with the skips. ``pipeline`` must then be configs
            (dicts). Defaults to False.
        cache_images: Keep every loaded sample (the output of the wrapped
            dataset's loading pipeline: decoded image and annotations) in
            RAM, per process (each DataLoader worker fills its own cache),
            and hand out copies. Saves the image decodes (4 per Mosaic
            sample, 5 with MixUp) after the first epoch; needs about
            ``H * W * 3`` bytes per image and worker, so it is meant for
            small datasets (Megvii's ``--cache ram``). Defaults to False.
    """

    #: ``update_skip_type_keys`` reaches running DataLoader workers, so
    #: ``YOLOXModeSwitchHook`` need not restart them.
    supports_live_skip = True

    def __init__(self,
                 dataset: Union[BaseDataset, dict],
                 pipeline: Sequence[Union[dict, Callable]],
                 skip_type_keys: Optional[Sequence[str]] = None,
                 max_refetch: int = 15,
                 lazy_init: bool = False,
                 cache_images: bool = False,
                 exact_twins: bool = True,
                 fuse: bool = False) -> None:
        if not isinstance(pipeline, SequenceABC) or isinstance(pipeline, str):
            raise TypeError('pipeline must be a sequence of transform configs '
                            f'or transforms, but received {type(pipeline)}')
        self.pipeline: List[Callable] = []
        self.pipeline_types: List[str] = []
        for cfg in pipeline:
            if isinstance(cfg, dict):
                transform = TRANSFORMS.build(
                    with_exact_twin(cfg) if exact_twins else cfg)
            elif callable(cfg):
                transform = cfg
            else:
                raise TypeError('pipeline entries must be dicts or callables, '
                                f'but received {type(cfg)}')
            self.pipeline.append(transform)
            self.pipeline_types.append(_type_name(cfg, transform))
        self.exact_twins = exact_twins
        self.fuse = fuse
        self._fused = _fused_transforms(pipeline) if fuse else None

        if isinstance(dataset, dict):
            self.dataset = DATASETS.build(dataset)
        elif hasattr(dataset, '__getitem__') and hasattr(dataset, '__len__'):
            self.dataset = dataset
        else:
            raise TypeError('dataset must be a dataset config dict or a '
                            'dataset (with __len__ and __getitem__), but '
                            f'received {type(dataset)}')
        if not isinstance(max_refetch, int) or max_refetch < 1:
            raise ValueError('max_refetch must be an int >= 1, but received '
                             f'{max_refetch!r}')
        self.max_refetch = max_refetch
        self.cache_images = cache_images
        self._cache: dict = {}
        self._metainfo = getattr(self.dataset, 'metainfo', {})
        if hasattr(self.dataset, 'flag'):
            self.flag = self.dataset.flag

        # One flag per pipeline transform, True = skipped. In shared memory so
        # that DataLoader workers read the main process's current value.
        self._skip_flags = torch.zeros(
            len(self.pipeline), dtype=torch.bool).share_memory_()
        if skip_type_keys is not None:
            self.update_skip_type_keys(skip_type_keys)
        self._worker_seed = EpochWorkerSeed()

        self._fully_initialized = False
        if not lazy_init:
            self.full_init()

    @property
    def metainfo(self) -> dict:
        """A copy of the wrapped dataset's meta information."""
        return copy.deepcopy(self._metainfo)

    @property
    def skip_type_keys(self) -> Tuple[str, ...]:
        """Type names of the transforms currently skipped (shared state)."""
        return tuple(name for name, skipped in zip(
            self.pipeline_types, self._skip_flags.tolist()) if skipped)

    def full_init(self) -> None:
        """Fully initialise the wrapped dataset (load its annotations)."""
        if self._fully_initialized:
            return
        if hasattr(self.dataset, 'full_init'):
            self.dataset.full_init()
        self._fully_initialized = True

    @force_full_init
    def get_data_info(self, idx: int) -> dict:
        """The wrapped dataset's annotation record ``idx``."""
        return self.dataset.get_data_info(idx)

    @force_full_init
    def __len__(self) -> int:
        return len(self.dataset)

    def update_skip_type_keys(self, skip_type_keys: Sequence[str]) -> None:
        """Skip the transforms named in ``skip_type_keys`` from now on.

        Replaces the previous set (an empty sequence re-enables every
        transform). Takes effect in DataLoader workers that are already
        running, from their next sample on.

        Args:
            skip_type_keys: Transform type names, e.g.
                ``('Mosaic', 'RandomAffine', 'MixUp')``.
        """
        if isinstance(skip_type_keys, str) or not all(
                isinstance(key, str) for key in skip_type_keys):
            raise TypeError('skip_type_keys must be a sequence of str, but '
                            f'received {skip_type_keys!r}')
        keys = set(skip_type_keys)
        flags = torch.tensor([name in keys for name in self.pipeline_types],
                             dtype=torch.bool)
        self._skip_flags.copy_(flags)  # in place: keep the shared storage

    def set_worker_epoch_seed(self, seed: int, epoch: int, rank: int) -> None:
        """Make every DataLoader worker (running or not yet started)
        reseed ``random``, ``numpy`` and ``torch`` from ``(seed, epoch,
        rank, worker id)`` at its next sample; no effect on samples loaded
        in the main process. See
        :class:`~yolox_mm.datasets.worker_seed.EpochWorkerSeed`.

        Raises:
            ValueError: if an argument is negative.
        """
        self._worker_seed.set(seed, epoch, rank)

    def _load_mix_results(self, transform: Any) -> List[dict]:
        """Load the extra samples ``transform.get_indexes`` asks for."""
        for _ in range(self.max_refetch):
            indexes = transform.get_indexes(self.dataset)
            if not isinstance(indexes, SequenceABC):
                indexes = [indexes]
            mix_results = [self._load(index) for index in indexes]
            if not any(r is None for r in mix_results):
                return mix_results
        raise RuntimeError(
            f'The wrapped dataset returned None for the extra samples of '
            f'{transform!r} {self.max_refetch} times; check its loading '
            'pipeline.')

    def _load(self, idx: int) -> Optional[dict]:
        """``self.dataset[idx]``, from the RAM cache if enabled (a copy:
        new dict, image and annotation containers)."""
        if not self.cache_images:
            return self.dataset[idx]
        if idx not in self._cache:
            results = self.dataset[idx]
            if results is None:
                return None
            self._cache[idx] = results
        results = _copy_annotations(self._cache[idx])
        results['img'] = results['img'].copy()
        return results

    def _active_transforms(self, skip_flags: List[bool]) -> List[Callable]:
        """The transforms one sample goes through: the fused ones if
        ``fuse`` and nothing is skipped, else the ``pipeline`` entries that
        are not skipped."""
        if self._fused is not None and not any(skip_flags):
            return self._fused
        return [t for t, skipped in zip(self.pipeline, skip_flags)
                if not skipped]

    def __getitem__(self, idx: int) -> dict:
        self._worker_seed.reseed_worker()  # first sample of a worker's epoch
        results = self._load(idx)
        skip_flags = self._skip_flags.tolist()  # one read of the shared flags
        for transform in self._active_transforms(skip_flags):
            mix_results = None
            if hasattr(transform, 'get_indexes'):
                mix_results = self._load_mix_results(transform)

            for _ in range(self.max_refetch):
                inputs = _copy_annotations(results)
                if mix_results is not None:
                    inputs['mix_results'] = [
                        _copy_annotations(r) for r in mix_results
                    ]
                updated = transform(inputs)
                if updated is not None:
                    results = updated
                    break
            else:
                raise RuntimeError(
                    f'{transform!r} returned None {self.max_refetch} times '
                    'in a row; check the pipeline of the dataset wrapper.')
            results.pop('mix_results', None)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}('
                f'dataset={type(self.dataset).__name__}, '
                f'pipeline_types={self.pipeline_types}, '
                f'skip_type_keys={self.skip_type_keys}, '
                f'max_refetch={self.max_refetch}, '
                f'exact_twins={self.exact_twins}, fuse={self.fuse})')
