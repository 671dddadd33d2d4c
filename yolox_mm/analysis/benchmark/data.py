"""Section c: the training data pipeline, samples/s.

Mosaic -> RandomAffine -> MixUp -> HSV -> flip -> resize -> pad -> filter ->
pack: the pipelines of our ``configs/_base_/datasets/coco_yolox.py``
(``YOLOXMixImageDataset`` with our Mosaic/MixUp, then mmdet's transforms)
and of mmdet's ``yolox_s_8xb8-300e_coco.py`` (``MultiImageMixDataset``
with mmdet's Mosaic/MixUp). A second row runs ours with ``fuse=True`` (the
pipeline run as :func:`~yolox_mm.datasets.transforms.fuse_pipeline` makes
it: one warp per source image), a third with ``cache_images=True``
(decoded images kept in RAM), timed after one untimed pass over every
index. The third column is Megvii's
``MosaicDetection`` + ``TrainTransform`` (yolox-datamint 0.3.1) over the
same images through :class:`~yolox_mm.testing.megvii_data.
MegviiCocoAdapter`, with our pipeline's settings
(:func:`~yolox_mm.testing.megvii_data.megvii_settings`: mosaic prob 1,
degrees, translate, scale, shear, MixUp on with our ratio range, HSV, flip
0.5, the same canvas). Samples/s in one process (``dataset[i]`` in a loop,
the implementations interleaved) and through a DataLoader with 2 workers
(persistent, warmed up, the loaders taking turns; ours and mmdet with the
collate function of their configs, :func:`config_collates`; Megvii with
torch's ``default_collate``, as its own ``DataLoader``). Data: a synthetic
COCO-format set of JPEGs
(:func:`yolox_mm.testing.synthetic.write_synthetic_coco`) in a temporary
directory, or a real set (``Options.data_root``).
"""
import contextlib
import copy
import gc
import io
import json
import os.path as osp
import random
import tempfile
from functools import partial
from typing import Callable, Dict, List, Optional, Tuple

import cv2
import numpy as np
import torch
from mmengine import DefaultScope
from mmengine.config import Config

from yolox_mm.testing.reference import MMDET_CONFIGS, OUR_CONFIGS
from yolox_mm.testing.synthetic import write_synthetic_coco
from yolox_mm.utils.type_name import type_name
from .megvii import use_megvii
from .report import SectionResult, SummaryRow, fmt_ratio
from .sizes import Options, Sizes
from .timing import time_interleaved

HEADER = ('impl', 'mode', 'ours samples/s', 'mmdet samples/s',
          'Megvii samples/s', 'speed-up vs mmdet', 'speed-up vs Megvii',
          'ms/sample ours / mmdet / Megvii')
CACHE_NOTE = ('cache_images: decoded images held in RAM '
              '(YOLOXMixImageDataset), timed after one pass over every index '
              '(the first epoch), so no JPEG is decoded; mmdet has no such '
              'option, Megvii\'s (--cache: a memmap file of resized images) '
              'is not run; its ratios are against their uncached rates.')

MEGVII_NOTE = ("Megvii: yolox-datamint 0.3.1 MosaicDetection + TrainTransform "
               "(max_labels=120) over the same images (MegviiCocoAdapter), "
               "our pipeline's degrees/translate/scale/shear/MixUp range, "
               "HSV and flip; its samples are float32 [3, H, W] with padded "
               "cxcywh labels, collated by torch's default_collate.")


def scaled_pipeline(pipeline: list, scale: int) -> list:
    """The YOLOX training pipeline at a ``scale x scale`` canvas."""
    pipeline = copy.deepcopy(pipeline)
    for t in pipeline:
        kind = type_name(t['type'])
        if kind in ('Mosaic', 'MixUp'):
            t['img_scale'] = (scale, scale)
        elif kind == 'RandomAffine':
            t['border'] = (-scale // 2, -scale // 2)
        elif kind == 'Resize':
            t['scale'] = (scale, scale)
    return pipeline


def build_train_dataset(which: str, data_root: str, ann_file: str,
                        img_prefix: str, scale: int,
                        cache_images: bool = False,
                        fuse: Optional[bool] = None):
    """Our ``YOLOXMixImageDataset`` + ``coco_yolox.py`` pipeline (with
    ``cache_images`` if asked; ``fuse`` as in that config when None), or
    mmdet's ``MultiImageMixDataset`` + ``yolox_s`` pipeline."""
    with open(osp.join(data_root, ann_file)) as f:
        categories = json.load(f)['categories']
    classes = tuple(c['name'] for c in sorted(categories,
                                              key=lambda c: c['id']))
    inner = dict(type='CocoDataset', data_root=data_root, ann_file=ann_file,
                 data_prefix=dict(img=img_prefix),
                 metainfo=dict(classes=classes),
                 pipeline=[dict(type='LoadImageFromFile'),
                           dict(type='LoadAnnotations', with_bbox=True)],
                 filter_cfg=dict(filter_empty_gt=False, min_size=32))
    if which == 'ours':
        import yolox_mm  # noqa: F401
        from yolox_mm.registry import DATASETS
        cfg = Config.fromfile(OUR_CONFIGS / '_base_' / 'datasets' /
                              'coco_yolox.py')
        pipeline = cfg.train_pipeline
        wrapper, scope = 'YOLOXMixImageDataset', 'yolox_mm'
        extra = dict(fuse=cfg.train_dataloader.dataset.get('fuse', False)
                     if fuse is None else fuse)
    else:
        from mmdet.registry import DATASETS
        pipeline = Config.fromfile(MMDET_CONFIGS /
                                   'yolox_s_8xb8-300e_coco.py').train_pipeline
        wrapper, scope, extra = 'MultiImageMixDataset', 'mmdet', {}
    pipeline = scaled_pipeline(pipeline, scale)
    if cache_images:
        extra['cache_images'] = True
    with DefaultScope.overwrite_default_scope(scope), \
            contextlib.redirect_stdout(io.StringIO()):  # pycocotools chatter
        dataset = DATASETS.build(dict(type=wrapper, dataset=inner,
                                      pipeline=pipeline, **extra))
    return dataset, [t['type'] for t in pipeline]


def config_collate(which: str) -> Callable:
    """The training collate function of ``'ours'`` (``coco_yolox.py``) or
    ``'mmdet'`` (its ``yolox_s_8xb8-300e_coco.py``): the config's
    ``train_dataloader.collate_fn``, ``pseudo_collate`` when it names none,
    looked up as mmengine's ``Runner.build_dataloader`` does."""
    import yolox_mm  # noqa: F401  (registers ours)
    from mmengine.registry import FUNCTIONS
    path = (OUR_CONFIGS / '_base_' / 'datasets' / 'coco_yolox.py'
            if which == 'ours' else
            MMDET_CONFIGS / 'yolox_s_8xb8-300e_coco.py')
    cfg = Config.fromfile(path).train_dataloader.get(
        'collate_fn', dict(type='pseudo_collate'))
    return FUNCTIONS.get(cfg['type'])


def config_collates(names) -> Dict[str, Callable]:
    """``name -> collate`` for the datasets ``names`` of the benchmarks:
    ``'mmdet'`` gets mmdet's :func:`config_collate`, ``'megvii'`` torch's
    ``default_collate`` (what Megvii's own ``DataLoader`` uses), every
    other name (our pipelines) ours."""
    from torch.utils.data import default_collate
    ours, mmdet = config_collate('ours'), config_collate('mmdet')
    special = dict(mmdet=mmdet, megvii=default_collate)
    return {name: special.get(name, ours) for name in names}


class _ListSampler(torch.utils.data.Sampler):
    """Yields ``self.indices``, which may be replaced between epochs."""

    def __init__(self, indices: List[int]) -> None:
        self.indices = indices

    def __iter__(self):
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)


def _seed_worker(worker_id: int) -> None:
    seed = torch.initial_seed() % 2**31
    np.random.seed(seed)
    random.seed(seed)


def fill_cache(dataset) -> None:
    """One untimed pass over every index of a ``cache_images`` dataset (the
    first epoch), so that the timed passes see the steady state: every
    image decoded once and held in RAM."""
    for i in range(len(dataset)):
        dataset[i]


def _shuffled(num: int, length: int, seed: int) -> List[int]:
    """``num`` indices of a seeded permutation of ``range(length)``,
    cycled."""
    order = np.random.RandomState(seed).permutation(length)
    return [int(order[i % length]) for i in range(num)]


def single_process_seconds(datasets: Dict[str, object], sizes: Sizes,
                           seed: int) -> Dict[str, float]:
    """Median seconds of ``sizes.c_samples`` ``dataset[i]`` calls of each
    dataset, interleaved (a ``cache_images`` dataset is filled first)."""
    single = {}
    for name, ds in datasets.items():
        indices = _shuffled(sizes.c_samples, len(ds), seed)
        if getattr(ds, 'cache_images', False):
            fill_cache(ds)

        def run(ds=ds, indices=indices):
            np.random.seed(seed)
            random.seed(seed)
            for i in indices:
                ds[i]
        single[name] = run
    times, _ = time_interleaved(single, sizes.repeats, sizes.warmup)
    return times


def started_loader(ds, sizes: Sizes, seed: int,
                   collate: Optional[Callable] = None
                   ) -> torch.utils.data.DataLoader:
    """A 2-worker DataLoader (batch ``sizes.c_batch``, persistent workers,
    ``collate``: mmengine's ``pseudo_collate`` when None) whose workers are
    started and warmed up (a ``cache_images`` dataset runs twice over the
    whole set: each worker fills its own cache); its next passes yield
    ``sizes.c_batches`` batches of a seeded shuffle."""
    from mmengine.dataset import pseudo_collate
    batch = sizes.c_batch
    cached = getattr(ds, 'cache_images', False)
    warm = (2 * list(range(len(ds))) if cached else
            list(range(min(len(ds), 2 * batch))))
    sampler = _ListSampler(warm)
    loader = torch.utils.data.DataLoader(
        ds, batch_size=batch, sampler=sampler, num_workers=2,
        collate_fn=collate or pseudo_collate, persistent_workers=True,
        worker_init_fn=_seed_worker)
    for _ in loader:  # start the workers, warm up (fill the caches)
        pass
    sampler.indices = _shuffled(batch * sizes.c_batches, len(ds), seed)
    return loader


def _one_pass(loader) -> None:
    for _ in loader:
        pass


def loader_rates(datasets: Dict[str, object], sizes: Sizes, seed: int,
                 collates: Optional[Dict[str, Callable]] = None
                 ) -> Dict[str, float]:
    """Median samples/s of a 2-worker DataLoader of each dataset
    (:func:`started_loader`) over ``sizes.repeats`` passes of
    ``sizes.c_batches`` batches. The loaders are all started first and
    then take turns, one pass each (:func:`time_interleaved`), so that a
    change of the machine's speed hits all of them; a loader's workers
    are idle while the others run."""
    collates = collates or {}
    loaders = {name: started_loader(ds, sizes, seed, collates.get(name))
               for name, ds in datasets.items()}
    passes = {name: partial(_one_pass, loader)
              for name, loader in loaders.items()}
    times, _ = time_interleaved(passes, max(1, sizes.repeats), warmup=0)
    samples = {name: len(loader.sampler) for name, loader in loaders.items()}
    del loaders, passes
    gc.collect()
    return {name: samples[name] / times[name] for name in datasets}


def pipeline_rates(datasets: Dict[str, object], sizes: Sizes, seed: int,
                   collates: Optional[Dict[str, Callable]] = None
                   ) -> Dict[str, Tuple[float, float]]:
    """Samples/s of each dataset: ``(one process, 2-worker DataLoader)``;
    ``collates``: name -> collate function of its loader (default
    ``pseudo_collate``)."""
    times = single_process_seconds(datasets, sizes, seed)
    loader = loader_rates(datasets, sizes, seed, collates)
    return {name: (sizes.c_samples / times[name], loader[name])
            for name in datasets}


@contextlib.contextmanager
def _dataset_files(opts: Options, sizes: Sizes):
    """``(data_root, ann_file, img_prefix, description)`` of the set:
    ``opts.data_root`` or synthetic JPEGs in a temporary directory (removed
    on exit)."""
    if opts.data_root:
        yield (opts.data_root, opts.ann_file, opts.img_prefix,
               f'{opts.data_root} ({opts.ann_file})')
        return
    with tempfile.TemporaryDirectory(prefix='yolox_bench_') as root:
        num = opts.num_images or sizes.c_images
        ann_file, img_prefix = write_synthetic_coco(root, num, sizes.c_img_wh,
                                                    opts.seed)
        width, height = sizes.c_img_wh
        yield (root, ann_file, img_prefix,
               f'synthetic COCO, {num} JPEGs {width}x{height}, 1-14 boxes')


def rate_rows(rates: Dict[str, Tuple[float, float]]
              ) -> Tuple[List[list], List[SummaryRow]]:
    """Rows ours (the config's pipeline), ours fused and ours +
    ``cache_images`` (those in ``rates``) x the two modes; Megvii's
    cells are ``'-'`` when it was not run (no ``'megvii'`` in ``rates``)."""
    rows, summary = [], []
    for name, label in (('ours', 'ours'),
                        ('fused', 'ours, fused (fuse=True)'),
                        ('cached', 'ours + cache_images')):
        if name not in rates:
            continue
        for i, mode in enumerate(('1 process', 'DataLoader, 2 workers')):
            r_ours, r_mm = rates[name][i], rates['mmdet'][i]
            r_mv = rates['megvii'][i] if 'megvii' in rates else None
            vs_mv = None if r_mv is None else r_ours / r_mv
            ms = [f'{1e3 / r:.1f}' for r in (r_ours, r_mm, r_mv) if r]
            rows.append([label, mode, f'{r_ours:.1f}', f'{r_mm:.1f}',
                         '-' if r_mv is None else f'{r_mv:.1f}',
                         fmt_ratio(r_ours / r_mm), fmt_ratio(vs_mv),
                         ' / '.join(ms + ['-'] * (3 - len(ms)))])
            what = f'(c) pipeline samples/s, {label}, {mode}'
            summary.append(SummaryRow(f'{what}, vs mmdet', r_ours / r_mm))
            if vs_mv is not None:
                summary.append(SummaryRow(f'{what}, vs Megvii', vs_mv))
    return rows, summary


def _measure(sizes: Sizes, opts: Options, data_root: str, ann_file: str,
             img_prefix: str) -> Tuple[List[str], dict]:
    """Transform names of the pipeline, and :func:`pipeline_rates` of
    ours (the config's ``fuse``), ours fused, ours + ``cache_images``,
    mmdet's and (``opts.megvii``) Megvii's."""
    build = lambda which, **kw: build_train_dataset(  # noqa: E731
        which, data_root, ann_file, img_prefix, sizes.c_scale, **kw)
    ours, ours_types = build('ours')
    ref, ref_types = build('mmdet')
    names = [type_name(t) for t in ours_types]
    if names != [type_name(t) for t in ref_types]:
        raise RuntimeError('the two pipelines differ: '
                           f'{ours_types} vs {ref_types}')
    fused, _ = build('ours', fuse=True)
    cached, _ = build('ours', cache_images=True)
    datasets = dict(ours=ours, fused=fused, cached=cached, mmdet=ref)
    if use_megvii(opts):
        from yolox_mm.testing.megvii_data import build_megvii_pipeline
        pipeline = scaled_pipeline(Config.fromfile(
            OUR_CONFIGS / '_base_' / 'datasets' /
            'coco_yolox.py').train_pipeline, sizes.c_scale)
        datasets['megvii'] = build_megvii_pipeline(
            data_root, ann_file, img_prefix, sizes.c_scale, pipeline)
    return names, pipeline_rates(datasets, sizes, opts.seed,
                                 config_collates(datasets))


def section_data(sizes: Sizes, opts: Options,
                 progress: Callable[[str], None] = lambda line: None
                 ) -> SectionResult:
    """Section c: ours and ours + ``cache_images`` against mmdet and
    Megvii, in one process and through a 2-worker DataLoader. OpenCV
    threads are set to 0 meanwhile, as mmengine does in training."""
    cv2_threads = cv2.getNumThreads()
    cv2.setNumThreads(0)
    try:
        with _dataset_files(opts, sizes) as (root, ann, prefix, what):
            names, rates = _measure(sizes, opts, root, ann, prefix)
    finally:
        cv2.setNumThreads(cv2_threads)
    scale = sizes.c_scale
    rows, summary = rate_rows(rates)
    title = (f'(c) training data pipeline {" -> ".join(names)} at '
             f'{scale}x{scale}; {what}; samples/s (median of '
             f'{sizes.repeats} passes of {sizes.c_samples} samples; '
             f'2-worker DataLoader: batch {sizes.c_batch}, median of '
             f'{sizes.repeats} passes of {sizes.c_batches} batches after '
             'warm-up, the loaders taking turns)')
    notes = [CACHE_NOTE] + ([MEGVII_NOTE] if use_megvii(opts) else [])
    return SectionResult(title, HEADER, rows, notes, summary)
