"""FusedMosaicAffineMixUp against Mosaic -> RandomAffine -> MixUp (ours),
run through YOLOXMixImageDataset from the same seeds."""
import random

import cv2
import numpy as np
import pytest
import torch
from mmdet.datasets.transforms import LoadAnnotations
from mmengine.config import Config

from yolox_mm.datasets import YOLOXMixImageDataset
from yolox_mm.datasets.transforms import (MOSAIC_SKIPPED,
                                          FusedMosaicAffineMixUp,
                                          fuse_pipeline)
from yolox_mm.datasets.transforms.fused_mosaic import (resize_map, source_roi,
                                                      warp_into)
from yolox_mm.testing.synthetic import smooth_image


class _ListDataset:
    """In-memory dataset: COCO-like records (``width``, ``height``,
    ``instances``) and their images; ``[i]`` gives what
    LoadImageFromFile + LoadAnnotations would (new objects every call)."""

    def __init__(self, images, boxes):
        self.images = images
        self.records = []
        for img, img_boxes in zip(images, boxes):
            self.records.append(dict(
                height=img.shape[0], width=img.shape[1],
                instances=[dict(bbox=list(map(float, b)), bbox_label=i % 3,
                                ignore_flag=0)
                           for i, b in enumerate(img_boxes)]))
        self.loads = 0

    def __len__(self):
        return len(self.images)

    def get_data_info(self, idx):
        return dict(self.records[idx])

    def __getitem__(self, idx):
        self.loads += 1
        results = LoadAnnotations(with_bbox=True)(self.get_data_info(idx))
        results['img'] = self.images[idx].copy()
        results['img_shape'] = results['img'].shape[:2]
        return results


def _random_set(num, sizes_wh, seed, blur=0.):
    """``num`` smooth-noise images of the given sizes (cycled; Gaussian
    blur ``blur`` px if > 0), 1-6 boxes each."""
    rng = np.random.RandomState(seed)
    images, boxes = [], []
    for i in range(num):
        w, h = sizes_wh[i % len(sizes_wh)]
        img = smooth_image(h, w, rng)
        if blur:
            img = cv2.GaussianBlur(img, (0, 0), blur)
        images.append(img)
        n = rng.randint(1, 7)
        x1, y1 = rng.uniform(0, w - 8, n), rng.uniform(0, h - 8, n)
        x2 = np.minimum(w, x1 + rng.uniform(4, w / 2, n))
        y2 = np.minimum(h, y1 + rng.uniform(4, h / 2, n))
        boxes.append(np.stack([x1, y1, x2, y2], 1))
    return _ListDataset(images, boxes)


def _steps(scale_wh, affine=None, mixup=True, mosaic_prob=1.0):
    w, h = scale_wh
    steps = [
        dict(type='Mosaic', img_scale=scale_wh, pad_val=114.0,
             prob=mosaic_prob),
        dict(type='RandomAffine', border=(-w // 2, -h // 2),
             **(affine or dict(scaling_ratio_range=(0.5, 1.5))))
    ]
    if mixup:
        steps.append(dict(type='MixUp', img_scale=scale_wh,
                          ratio_range=(0.8, 1.6), pad_val=114.0))
    return steps


def _run_both(dataset, steps, seeds):
    three = YOLOXMixImageDataset(dataset, steps)
    fused_steps = fuse_pipeline(steps)
    fused = YOLOXMixImageDataset(dataset, fused_steps)
    for seed in seeds:
        out = []
        for ds in (three, fused):
            np.random.seed(seed)
            random.seed(seed)
            out.append((ds[seed % len(ds)], np.random.randint(1 << 30)))
        yield out


def _assert_same_boxes(a, b):
    assert torch.equal(a['gt_bboxes'].tensor, b['gt_bboxes'].tensor)
    np.testing.assert_array_equal(a['gt_bboxes_labels'],
                                  b['gt_bboxes_labels'])
    np.testing.assert_array_equal(a['gt_ignore_flags'], b['gt_ignore_flags'])


def test_resize_map_and_source_roi_by_hand():
    # 400 px at r = 1.04 -> int(416.0) = 416 px, scale 416 / 400 = 1.04
    assert resize_map(400, 1.04) == (416, 416 / 400)
    # output pixels 0..415 of a x2 resize need input (0 + .5) / 2 - .5 =
    # -0.25 .. (416 - .5) / 2 - .5 = 207.25 -> [0, 209) clamped to 208
    assert source_roi(0, 416, 2.0, 208, 416) == (0, 208)
    # output 100..199 at scale 2, both sides cut: input 49.75 .. 99.25,
    # rounded -> [50, 100)
    assert source_roi(100, 200, 2.0, 208, 416) == (50, 100)
    # the same with the image's own edges (not cut): floor / ceil
    assert source_roi(0, 200, 2.0, 100, 200) == (0, 100)


def test_identity_geometry_is_pixel_exact():
    # Sources of exactly W x H (no resize) and an identity affine: both
    # paths copy pixels; the fused one must give the same image exactly.
    dataset = _random_set(6, [(48, 32)], seed=0)
    identity = dict(max_rotate_degree=0., max_translate_ratio=0.,
                    scaling_ratio_range=(1., 1.), max_shear_degree=0.)
    steps = _steps((48, 32), affine=identity, mixup=False)
    for (a, state_a), (b, state_b) in _run_both(dataset, steps, range(8)):
        assert a['img'].shape == b['img'].shape == (32, 48, 3)
        np.testing.assert_array_equal(a['img'], b['img'])
        _assert_same_boxes(a, b)
        assert state_a == state_b


def _mean_abs_diffs(dataset, steps, seeds):
    """Per sample mean |dpixel| of the two paths; checks on the way that
    the boxes are identical and the random streams in step."""
    diffs = []
    for (a, state_a), (b, state_b) in _run_both(dataset, steps, seeds):
        assert a['img'].shape == b['img'].shape
        _assert_same_boxes(a, b)
        assert state_a == state_b
        diffs.append(np.abs(a['img'].astype(int) - b['img']).mean())
    return diffs


@pytest.mark.parametrize('mixup', [True, False])
def test_unresized_sources_equal_within_interpolation(mixup):
    # Sources of the canvas size (COCO 640 x 480 at 640, tiles 400 at 400:
    # Mosaic does not resize them), rotation, shear, scale, MixUp jitter
    # and flip: both paths sample each mosaic source once, so only the
    # rounding of the fixed-point interpolation and the seams differ.
    dataset = _random_set(5, [(64, 48)], seed=1)
    diffs = _mean_abs_diffs(dataset, _steps((64, 48), mixup=mixup),
                            range(12))
    assert max(diffs) <= 1.0, diffs


@pytest.mark.parametrize('mixup', [True, False])
def test_resized_sources_equal_within_interpolation(mixup):
    # Sources of three sizes, resized by 0.69-1.6 in Mosaic and in MixUp's
    # letterbox, on noisy images (no blur): the fused path resizes them as
    # the three-step path does (the same cv2.resize) before warping, so the
    # pixels agree within the interpolation (measured: at most 0.38).
    dataset = _random_set(7, [(120, 90), (192, 144), (150, 210)], seed=1)
    diffs = _mean_abs_diffs(dataset, _steps((192, 144), mixup=mixup),
                            range(12))
    assert max(diffs) <= 0.5, diffs


def _single_resample(steps):
    fused = fuse_pipeline(steps)
    fused[0]['single_resample'] = True
    return fused


@pytest.mark.parametrize('mixup', [True, False])
def test_single_resample_same_geometry(mixup):
    # single_resample=True samples a resized source once (sharper: on the
    # tree tiles mean |dpixel| 1.8 at 640, 3.5 at 416 against the three-step
    # path, which blurs twice). On smooth images (blur 2 px) that difference
    # vanishes and what remains is the geometry: any misplaced image, seam,
    # flip or offset would show here. At a canvas edge that cuts an image
    # the two paths end it within half a source pixel of each other: a
    # 1-pixel band, so the canvas is kept >= 192 px wide.
    dataset = _random_set(7, [(120, 90), (192, 144), (150, 210)], seed=1,
                          blur=2.)
    steps = _steps((192, 144), mixup=mixup)
    three = YOLOXMixImageDataset(dataset, steps)
    once = YOLOXMixImageDataset(dataset, _single_resample(steps))
    noisy = _random_set(7, [(120, 90), (192, 144), (150, 210)], seed=1)
    sharp = YOLOXMixImageDataset(noisy, _single_resample(steps))
    for seed in range(12):
        out = []
        for ds in (three, once, sharp):
            np.random.seed(seed)
            random.seed(seed)
            out.append(ds[seed % len(ds)])
        _assert_same_boxes(out[0], out[1])
        assert np.abs(out[0]['img'].astype(int) - out[1]['img']).mean() <= 1.
        assert out[2]['img'].shape == out[0]['img'].shape


def test_wrapper_fuse_flag_same_boxes_and_falls_back_when_skipping():
    from yolox_mm.analysis.benchmark.data import scaled_pipeline
    coco = Config.fromfile('configs/_base_/datasets/coco_yolox.py')
    assert coco.train_dataloader.dataset.fuse is False  # opt-in
    steps = scaled_pipeline(coco.train_pipeline, 192)
    dataset = _random_set(6, [(192, 144), (150, 210)], seed=4)
    plain = YOLOXMixImageDataset(dataset, steps)
    fused = YOLOXMixImageDataset(dataset, steps, fuse=True)
    assert [type(t).__name__ for t in fused._fused][:3] == [
        'FusedMosaicAffineMixUp', 'LUTYOLOXHSVRandomAug',
        'ContiguousRandomFlip']
    last = ('Mosaic', 'RandomAffine', 'MixUp')  # the mode switch
    for skip in ((), last):
        plain.update_skip_type_keys(skip)
        fused.update_skip_type_keys(skip)
        for seed in range(6):
            out = []
            for ds in (plain, fused):
                np.random.seed(seed)
                random.seed(seed)
                out.append((ds[seed], np.random.randint(1 << 30)))
            (a, state_a), (b, state_b) = out
            assert state_a == state_b
            ga = a['data_samples'].gt_instances
            gb = b['data_samples'].gt_instances
            assert torch.equal(ga.bboxes.tensor, gb.bboxes.tensor)
            assert torch.equal(ga.labels, gb.labels)
            diff = (a['inputs'].int() - b['inputs'].int()).abs()
            if skip:  # the three-step pipeline itself: identical
                assert int(diff.max()) == 0
            else:
                assert 0 < float(diff.float().mean()) <= 0.5


def test_wrapper_fuse_errors():
    dataset = _random_set(3, [(64, 48)], seed=0)
    steps = _steps((64, 48))
    with pytest.raises(TypeError, match='config dicts'):
        YOLOXMixImageDataset(dataset, [lambda results: results],
                             fuse=True)
    with pytest.raises(ValueError, match='Mosaic directly followed by'):
        YOLOXMixImageDataset(dataset, steps[1:], fuse=True)


def test_decode_visible_only_loads_fewer_and_changes_nothing():
    dataset = _random_set(7, [(40, 30), (64, 48)], seed=2)
    steps = _steps((64, 48), affine=dict(scaling_ratio_range=(1.2, 1.5)))
    loads = {}
    outputs = {}
    for visible_only in (False, True):
        dataset.loads = 0
        fused_steps = fuse_pipeline(steps)
        fused_steps[0]['decode_visible_only'] = visible_only
        ds = YOLOXMixImageDataset(dataset, fused_steps)
        outputs[visible_only] = []
        for seed in range(10):
            np.random.seed(seed)
            outputs[visible_only].append(ds[seed % len(ds)])
        loads[visible_only] = dataset.loads
    # 1 + 3 + 1 loads a sample without skipping
    assert loads[False] == 10 * 5
    assert loads[True] < loads[False]
    for a, b in zip(outputs[False], outputs[True]):
        np.testing.assert_array_equal(a['img'], b['img'])
        _assert_same_boxes(a, b)


def test_skipped_mosaic_is_untouched_and_loads_nothing_more():
    dataset = _random_set(5, [(40, 30)], seed=3)
    steps = _steps((64, 48), mosaic_prob=0.5)
    skipped = 0
    for (a, state_a), (b, state_b) in _run_both(dataset, steps, range(12)):
        assert state_a == state_b
        assert a.get(MOSAIC_SKIPPED, False) == b.get(MOSAIC_SKIPPED, False)
        if a.get(MOSAIC_SKIPPED, False):
            skipped += 1
            np.testing.assert_array_equal(a['img'], b['img'])
            _assert_same_boxes(a, b)
    assert 0 < skipped < 12


def test_transform_needs_get_indexes_first():
    fused = FusedMosaicAffineMixUp(
        mosaic=dict(img_scale=(32, 32)),
        random_affine=dict(border=(-16, -16)))
    with pytest.raises(RuntimeError, match='get_indexes'):
        fused.transform(dict(img=np.zeros((8, 8, 3), np.uint8)))


def test_argument_errors():
    with pytest.raises(ValueError, match='pad_val equal to'):
        FusedMosaicAffineMixUp(mosaic=dict(pad_val=0.),
                               random_affine=dict(border=(-320, -320)))
    with pytest.raises(ValueError, match='Mosaic directly followed'):
        fuse_pipeline([dict(type='Mosaic'), dict(type='MixUp')])


def test_fuse_pipeline_of_the_configs():
    coco = Config.fromfile('configs/_base_/datasets/coco_yolox.py')
    fused = fuse_pipeline(coco.train_pipeline)
    names = [t['type'] for t in fused]
    assert names[:2] == ['FusedMosaicAffineMixUp', 'LUTYOLOXHSVRandomAug']
    assert fuse_pipeline(coco.train_pipeline,
                         exact_swaps=False)[1]['type'] == 'YOLOXHSVRandomAug'
    assert len(fused) == len(coco.train_pipeline) - 2
    assert fused[0]['mixup']['ratio_range'] == (0.8, 1.6)
    assert fused[0]['random_affine']['scaling_ratio_range'] == (0.1, 2)
    trees = Config.fromfile('configs/yolox_nano_1xb4-200e_deepforest.py')
    fused = fuse_pipeline(trees.train_pipeline)
    assert fused[0]['mixup'] is None
    assert fused[0]['mosaic']['img_scale'] == (416, 416)


def test_whole_coco_pipeline_same_boxes():
    # The full coco_yolox.py training pipeline at 192 (HSV, flip, resize,
    # pad, filter, pack after the fused step): identical boxes and labels,
    # images within interpolation, from the same seeds.
    from yolox_mm.analysis.benchmark.data import scaled_pipeline
    coco = Config.fromfile('configs/_base_/datasets/coco_yolox.py')
    steps = scaled_pipeline(coco.train_pipeline, 192)
    dataset = _random_set(6, [(192, 144)], seed=4)
    for (a, state_a), (b, state_b) in _run_both(dataset, steps, range(6)):
        assert state_a == state_b
        ga, gb = a['data_samples'].gt_instances, b['data_samples'].gt_instances
        assert torch.equal(ga.bboxes.tensor, gb.bboxes.tensor)
        assert torch.equal(ga.labels, gb.labels)
        diff = (a['inputs'].int() - b['inputs'].int()).abs().float().mean()
        assert diff <= 1.0


def test_seen_region_reads_every_pixel_the_warp_needs(monkeypatch):
    # Each mosaic source is resized (40 -> 64 is 5 / 8: resize_window's
    # block path; 37 -> 64 is not) and warped only over the part of its
    # crop that reaches the output. Warping the whole crop instead (the
    # earlier code) must give the same sample: same boxes, pixels equal up
    # to the warp's float rounding of a shifted matrix (<= 1 grey level,
    # a few values in 10^4).
    dataset = _random_set(8, [(40, 30), (48, 32), (37, 29)], seed=3)
    steps = fuse_pipeline(_steps(
        (64, 64), affine=dict(scaling_ratio_range=(0.5, 2.0))))
    real = FusedMosaicAffineMixUp._seen_region
    cut = []

    def counting(where, matrix):
        region = real(where, matrix)
        cut.append(region != where.crop)
        return region

    def samples():
        ds = YOLOXMixImageDataset(dataset, steps)
        out = []
        for seed in range(40):
            np.random.seed(seed)
            random.seed(seed)
            out.append(ds[seed % len(ds)])
        return out

    monkeypatch.setattr(FusedMosaicAffineMixUp, '_seen_region',
                        staticmethod(counting))
    part = samples()
    assert 0.2 < np.mean(cut) < 1  # the region is often, not always, cut
    monkeypatch.setattr(FusedMosaicAffineMixUp, '_seen_region',
                        staticmethod(lambda where, matrix: where.crop))
    whole = samples()
    differing = 0
    for a, b in zip(part, whole):
        _assert_same_boxes(a, b)
        delta = np.abs(a['img'].astype(int) - b['img'])
        assert delta.max() <= 1
        differing += int((delta > 0).sum())
    assert differing <= 1e-4 * sum(a['img'].size for a in part)


def test_bgra_warp_equals_bgr_warp():
    """The fused step warps BGRA (OpenCV vectorizes 4 channels, not 3): the
    B, G, R channels must equal a 3-channel warp bit for bit, inside and
    along the transparent border, for scales, rotations, shears and shifts
    like the configs' draws and beyond."""
    rng = np.random.RandomState(0)
    written = 0
    for trial in range(60):
        src = rng.randint(0, 256, (rng.randint(2, 90), rng.randint(2, 90), 3),
                          dtype=np.uint8)
        dst = rng.randint(0, 256, (100, 120, 3), dtype=np.uint8)
        angle = np.radians(rng.uniform(-40, 40))
        scale, shear = rng.uniform(0.3, 4.0), rng.uniform(-0.3, 0.3)
        matrix = np.array([[scale * np.cos(angle), -np.sin(angle) + shear,
                            rng.uniform(-20, 60)],
                           [np.sin(angle), scale * np.cos(angle),
                            rng.uniform(-20, 60)], [0., 0., 1.]])
        box = (rng.randint(0, 30), rng.randint(0, 30), rng.randint(60, 121),
               rng.randint(60, 101))
        bgr, bgra = dst.copy(), cv2.cvtColor(dst, cv2.COLOR_BGR2BGRA)
        warp_into(bgr, src, matrix, box)
        warp_into(bgra, cv2.cvtColor(src, cv2.COLOR_BGR2BGRA), matrix, box)
        np.testing.assert_array_equal(bgra[..., :3], bgr)
        written += (bgr != dst).any()
    assert written > 40  # most trials write pixels
