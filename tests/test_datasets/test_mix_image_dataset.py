"""Tests of YOLOXMixImageDataset: live skip in running workers, parity, copies.

The classes below are module-level so that ``spawn`` workers can unpickle
them (they import this module).
"""
import os

import numpy as np
import pytest
import torch
from mmdet.datasets import MultiImageMixDataset
from mmdet.datasets.transforms import LoadAnnotations
from mmengine.dataset import BaseDataset
from torch.utils.data import DataLoader

from yolox_mm.datasets import YOLOXMixImageDataset


class SyntheticImage:
    """Loading step: a deterministic image from ``sample_idx``.

    Uses its own generator, never numpy's global RNG, so that loading draws
    nothing (like ``LoadImageFromFile``).
    """

    def __call__(self, results):
        rng = np.random.default_rng(results['sample_idx'])
        h, w = results['height'], results['width']
        results['img'] = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        results['img_shape'] = (h, w)
        results['ori_shape'] = (h, w)
        return results


class SyntheticDetDataset(BaseDataset):
    """``num`` images of varying sizes, each with 1-3 boxes including one
    large central box (so that Mosaic always keeps some box)."""

    METAINFO = dict(classes=('a', 'b', 'c'))

    def __init__(self, num=8, **kwargs):
        self.num = num
        kwargs.setdefault(
            'pipeline',
            [SyntheticImage(),
             LoadAnnotations(with_bbox=True, with_label=True)])
        super().__init__(**kwargs)

    def load_data_list(self):
        data_list = []
        for i in range(self.num):
            h, w = 30 + 7 * i % 40, 40 + 11 * i % 50
            instances = [
                dict(
                    bbox=[w * 0.2, h * 0.2, w * 0.8, h * 0.8],
                    bbox_label=i % 3,
                    ignore_flag=0)
            ]
            for j in range(i % 3):
                x, y = (3 * j + i) % (w - 6), (5 * j + i) % (h - 6)
                instances.append(
                    dict(bbox=[x, y, x + 5, y + 5], bbox_label=j,
                         ignore_flag=int(j == 1)))
            data_list.append(
                dict(img_id=i, height=h, width=w, instances=instances))
        return data_list


class Tag:
    """Appends its class name to ``results['applied']``; records the pid."""

    def __call__(self, results):
        results['applied'] = results.get('applied', []) + [type(self).__name__]
        results['pid'] = os.getpid()
        return results


class TagA(Tag):
    pass


class TagB(Tag):
    pass


class Summary:
    """Keeps only what the test checks (cheap to send between processes)."""

    def __call__(self, results):
        return dict(
            sample_idx=results['sample_idx'],
            applied=results.get('applied', []),
            pid=results['pid'])


def identity_collate(batch):
    return batch


@pytest.mark.parametrize('start_method', ['fork', 'spawn'])
def test_skip_update_reaches_running_persistent_worker(start_method):
    dataset = YOLOXMixImageDataset(
        SyntheticDetDataset(num=4), [TagA(), TagB(), Summary()])
    loader = DataLoader(
        dataset,
        batch_size=2,
        num_workers=1,
        persistent_workers=True,
        collate_fn=identity_collate,
        multiprocessing_context=start_method)

    epoch1 = [s for batch in loader for s in batch]
    assert [s['applied'] for s in epoch1] == [['TagA', 'TagB']] * 4
    worker_pids = {s['pid'] for s in epoch1}
    assert len(worker_pids) == 1 and os.getpid() not in worker_pids

    dataset.update_skip_type_keys(['TagA'])  # main process, workers running
    epoch2 = [s for batch in loader for s in batch]
    assert [s['applied'] for s in epoch2] == [['TagB']] * 4
    assert {s['pid'] for s in epoch2} == worker_pids  # same, live worker

    dataset.update_skip_type_keys([])  # and back
    epoch3 = [s for batch in loader for s in batch]
    assert [s['applied'] for s in epoch3] == [['TagA', 'TagB']] * 4
    assert {s['pid'] for s in epoch3} == worker_pids
    assert YOLOXMixImageDataset.supports_live_skip is True


def test_api_matches_multi_image_mix_dataset():
    inner = SyntheticDetDataset(num=5)
    ours = YOLOXMixImageDataset(
        inner, [dict(type='yolox_mm.Mosaic', img_scale=(32, 32))],
        skip_type_keys=['Mosaic'])
    ref = MultiImageMixDataset(inner, [])
    assert len(ours) == len(ref) == 5
    assert ours.metainfo == ref.metainfo == dict(classes=('a', 'b', 'c'))
    ours.metainfo['classes'] = None  # a copy, as mmdet's
    assert ours.metainfo['classes'] == ('a', 'b', 'c')
    assert ours.get_data_info(2) == ref.get_data_info(2)
    # 'yolox_mm.Mosaic' matches the key 'Mosaic'; skipped from the start.
    assert ours.pipeline_types == ['Mosaic']
    assert ours.skip_type_keys == ('Mosaic', )
    out = ours[1]
    assert out['img'].shape == (37, 51, 3)  # unchanged: Mosaic skipped
    ours.update_skip_type_keys(('RandomAffine', ))
    assert ours.skip_type_keys == ()
    assert ours[1]['img'].shape == (64, 64, 3)


def test_argument_errors():
    inner = SyntheticDetDataset(num=2)
    with pytest.raises(TypeError, match='sequence'):
        YOLOXMixImageDataset(inner, 'Mosaic')
    with pytest.raises(TypeError, match='dicts or callables'):
        YOLOXMixImageDataset(inner, [3])
    with pytest.raises(TypeError, match='dataset'):
        YOLOXMixImageDataset(object(), [])
    dataset = YOLOXMixImageDataset(inner, [TagA()])
    with pytest.raises(TypeError, match='skip_type_keys'):
        dataset.update_skip_type_keys('TagA')


class FixedPartners:
    """Asks for samples 3 and 1 and records what it received."""

    def __init__(self):
        self.seen = []

    def get_indexes(self, dataset):
        return [3, 1]

    def __call__(self, results):
        self.seen.append([r['sample_idx'] for r in results['mix_results']])
        return results


def test_mix_results_loaded_from_inner_dataset_and_removed():
    transform = FixedPartners()
    dataset = YOLOXMixImageDataset(SyntheticDetDataset(num=5), [transform])
    out = dataset[0]
    assert transform.seen == [[3, 1]]
    assert 'mix_results' not in out
    assert out['sample_idx'] == 0


class ShiftInPlaceThenFail:
    """Shifts the boxes in place and returns None on its first call (as mmdet
    ``RandomCrop`` can); records the boxes it was given."""

    def __init__(self):
        self.seen = []

    def get_indexes(self, dataset):
        return 2

    def __call__(self, results):
        self.seen.append(results['gt_bboxes'].tensor.clone())
        results['gt_bboxes'].tensor.add_(100)
        results['mix_results'][0]['gt_bboxes'].tensor.add_(100)
        return None if len(self.seen) == 1 else results


def test_retry_after_none_sees_untouched_annotations():
    inner = SyntheticDetDataset(num=4)
    transform = ShiftInPlaceThenFail()
    YOLOXMixImageDataset(inner, [transform])[0]
    assert len(transform.seen) == 2
    assert torch.equal(transform.seen[0], transform.seen[1])
    expected = torch.tensor([inner.get_data_info(0)['instances'][0]['bbox']])
    assert torch.equal(transform.seen[0], expected)


@pytest.mark.parametrize('seed', [0, 1, 2])
def test_same_samples_as_multi_image_mix_dataset(seed):
    # Same transforms (mmdet's) in both wrappers: identical samples, because
    # the wrapper draws and loads in mmdet's order.
    pipeline = [
        dict(type='mmdet.Mosaic', img_scale=(48, 40)),
        dict(type='mmdet.MixUp', img_scale=(48, 40), ratio_range=(0.8, 1.6)),
    ]
    inner = SyntheticDetDataset(num=8)
    ours = YOLOXMixImageDataset(inner, pipeline)
    ref = MultiImageMixDataset(inner, pipeline)
    for idx in (0, 5):
        np.random.seed(seed)
        a = ours[idx]
        np.random.seed(seed)
        b = ref[idx]
        np.testing.assert_array_equal(a['img'], b['img'])
        assert torch.equal(a['gt_bboxes'].tensor, b['gt_bboxes'].tensor)
        np.testing.assert_array_equal(a['gt_bboxes_labels'],
                                      b['gt_bboxes_labels'])


@pytest.mark.parametrize('seed', [0, 1, 2])
def test_our_transforms_match_mmdet_pipeline(seed):
    # Our wrapper + our transforms vs mmdet's wrapper + mmdet's transforms:
    # same boxes; images equal up to MixUp's documented float32 rounding.
    def pipeline(scope):
        return [
            dict(type=f'{scope}.Mosaic', img_scale=(48, 40)),
            dict(type=f'{scope}.MixUp', img_scale=(48, 40),
                 ratio_range=(0.8, 1.6)),
        ]

    inner = SyntheticDetDataset(num=8)
    ours = YOLOXMixImageDataset(inner, pipeline('yolox_mm'))
    ref = MultiImageMixDataset(inner, pipeline('mmdet'))
    for idx in (0, 5):
        np.random.seed(seed)
        a = ours[idx]
        np.random.seed(seed)
        b = ref[idx]
        assert torch.equal(a['gt_bboxes'].tensor, b['gt_bboxes'].tensor)
        diff = np.abs(a['img'].astype(np.int16) - b['img'])
        assert diff.max() <= 1 and (diff > 0).mean() < 1e-2


class CountingDataset(SyntheticDetDataset):
    """Counts the loads (decodes) per index."""

    def __init__(self, **kwargs):
        self.loads = {}
        super().__init__(**kwargs)

    def __getitem__(self, idx):
        self.loads[idx] = self.loads.get(idx, 0) + 1
        return super().__getitem__(idx)


class InvertInPlace:
    """Writes into the image in place, as mmdet's YOLOXHSVRandomAug does."""

    def __call__(self, results):
        results['img'] ^= 255
        results['gt_bboxes'].tensor.add_(1)
        return results


def test_cache_images_loads_each_image_once_and_hands_out_copies():
    inner = CountingDataset(num=5)
    partners = FixedPartners()
    cached = YOLOXMixImageDataset(inner, [partners, InvertInPlace()],
                                  cache_images=True)
    plain = YOLOXMixImageDataset(CountingDataset(num=5),
                                 [FixedPartners(), InvertInPlace()])
    for _ in range(3):  # three "epochs"
        for i in range(5):
            a, b = cached[i], plain[i]
            # the in-place transform never leaks into the cache
            np.testing.assert_array_equal(a['img'], b['img'])
            assert torch.equal(a['gt_bboxes'].tensor, b['gt_bboxes'].tensor)
    # index i itself once, and partners 3 and 1 once: one load per index
    assert inner.loads == {0: 1, 1: 1, 2: 1, 3: 1, 4: 1}


def test_exact_twins_same_samples_config_names_and_skips():
    pipeline = [
        dict(type='Mosaic', img_scale=(48, 40)),
        dict(type='YOLOXHSVRandomAug'),
        dict(type='mmdet.RandomFlip', prob=0.5),
        dict(type='PackDetInputs'),
    ]
    inner = SyntheticDetDataset(num=8)
    twins = YOLOXMixImageDataset(inner, pipeline)  # the default
    plain = YOLOXMixImageDataset(inner, pipeline, exact_twins=False)
    assert [type(t).__name__ for t in twins.pipeline] == [
        'Mosaic', 'LUTYOLOXHSVRandomAug', 'ContiguousRandomFlip',
        'PlanarPackDetInputs']
    assert [type(t).__name__ for t in plain.pipeline][1:] == [
        'YOLOXHSVRandomAug', 'RandomFlip', 'PackDetInputs']
    assert twins.pipeline_types == plain.pipeline_types == [
        'Mosaic', 'YOLOXHSVRandomAug', 'RandomFlip', 'PackDetInputs']
    hsv_changed = 0
    for skip in ((), ('YOLOXHSVRandomAug', )):
        twins.update_skip_type_keys(skip)
        plain.update_skip_type_keys(skip)
        outs = []
        for ds in (twins, plain):
            np.random.seed(7)
            samples = [ds[i] for i in range(8)]
            outs.append((samples, np.random.randint(1 << 30)))
        (a, end_a), (b, end_b) = outs
        assert end_a == end_b  # the same draws
        for x, y in zip(a, b):
            assert torch.equal(x['inputs'], y['inputs'])
            assert torch.equal(x['data_samples'].gt_instances.bboxes.tensor,
                               y['data_samples'].gt_instances.bboxes.tensor)
            assert x['data_samples'].flip == y['data_samples'].flip
        if not skip:
            with_hsv = [x['inputs'] for x in a]
        else:  # the skip reached the twin: the pixels changed
            hsv_changed = sum(not torch.equal(u, x['inputs'])
                              for u, x in zip(with_hsv, a))
    assert hsv_changed >= 6
