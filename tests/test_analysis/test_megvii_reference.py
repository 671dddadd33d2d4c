"""The Megvii reference of the benchmark (:mod:`yolox_mm.testing.megvii`,
:mod:`yolox_mm.testing.megvii_data`): Megvii's ``MosaicDetection`` +
``TrainTransform`` over our COCO adapter on a hand-made 2-image set (where
a known box lands, derived by hand), the settings taken from our pipeline,
targets, the NMS stand-in and our weights loaded into Megvii's model.

yolox-datamint 0.3.1 is installed by ``make setup``; a missing reference
fails these tests (they would prove nothing by skipping).
"""
import json
import os.path as osp
import random

import cv2
import numpy as np
import pytest
import torch
from mmdet.structures import DetDataSample
from mmengine.config import Config
from mmengine.structures import InstanceData

from yolox_mm.testing import megvii as mv
from yolox_mm.testing.calibrate import randomise
from yolox_mm.testing.megvii_data import (MegviiCocoAdapter,
                                          build_megvii_pipeline,
                                          megvii_settings)
from yolox_mm.testing.reference import OUR_CONFIGS, build_detector
from yolox_mm.testing.synthetic import bgr_images

COLOUR = (10, 200, 60)  # BGR of the first image


def _pipeline(flip: float) -> list:
    """Our training pipeline with the flip probability ``flip``."""
    pipeline = Config.fromfile(OUR_CONFIGS / '_base_' / 'datasets' /
                               'coco_yolox.py').train_pipeline
    for t in pipeline:
        if t['type'] == 'RandomFlip':
            t['prob'] = flip
    return pipeline


@pytest.fixture
def two_images(tmp_path):
    """Image 1: 200 x 100 (w x h) of one colour, a box (20, 10, 60, 50) of
    category 7. Image 2: 64 x 128, a box (40, 100, 50, 80) xywh reaching
    out of the image (clipped to (40, 100, 64, 128)), category 3, a crowd
    box and a zero-area box (both dropped). PNG: lossless."""
    (tmp_path / 'images').mkdir()
    cv2.imwrite(str(tmp_path / 'images' / 'a.png'),
                np.full((100, 200, 3), COLOUR, np.uint8))
    cv2.imwrite(str(tmp_path / 'images' / 'b.png'),
                np.random.RandomState(0).randint(0, 256, (128, 64, 3),
                                                 dtype=np.uint8))
    anns = [(1, [20, 10, 40, 40], 7, 0), (2, [40, 100, 50, 80], 3, 0),
            (2, [0, 0, 30, 30], 7, 1), (2, [5, 5, 0, 10], 7, 0)]
    coco = dict(
        images=[dict(id=1, file_name='a.png', width=200, height=100),
                dict(id=2, file_name='b.png', width=64, height=128)],
        annotations=[dict(id=i + 1, image_id=img, bbox=box, category_id=cat,
                          area=box[2] * box[3], iscrowd=crowd)
                     for i, (img, box, cat, crowd) in enumerate(anns)],
        categories=[dict(id=3, name='c3'), dict(id=7, name='c7')])
    (tmp_path / 'ann.json').write_text(json.dumps(coco))
    return str(tmp_path)


def test_adapter_resizes_to_fit_and_cleans_boxes(two_images):
    ds = MegviiCocoAdapter(two_images, 'ann.json', 'images/', (64, 64))
    assert len(ds) == 2
    img, labels, hw, img_id = ds.pull_item(0)
    # r = min(64 / 100, 64 / 200) = 0.32: 200 x 100 -> 64 x 32
    assert img.shape == (32, 64, 3) and hw == (100, 200)
    assert (img == COLOUR).all() and img_id.tolist() == [1]
    # class index by sorted category id: 7 -> 1
    np.testing.assert_allclose(labels, [[6.4, 3.2, 19.2, 16.0, 1]])
    img, labels, hw, _ = ds.pull_item(1)
    # r = 0.5; the clipped box only (no crowd, no zero area)
    assert img.shape == (64, 32, 3)
    np.testing.assert_allclose(labels, [[20, 50, 32, 64, 0]])
    np.testing.assert_allclose(ds.load_anno(1), labels)


@pytest.mark.parametrize('flip', [0.0, 1.0], ids=['no_flip', 'flip'])
def test_train_transform_puts_a_known_box_where_derived(two_images, flip):
    """Mosaic off, HSV off: the resized image (already fitting 64 x 64,
    r = 1 in ``TrainTransform``'s resize) top-left on a 114 canvas; the box
    (6.4, 3.2, 19.2, 16.0) as cxcywh (12.8, 9.6, 12.8, 12.8); flipped (in
    the 64 px width of the resized image), cx -> 64 - 12.8."""
    ds = build_megvii_pipeline(two_images, 'ann.json', 'images/', 64,
                               _pipeline(flip), mosaic=False, hsv_prob=0.0)
    img, labels, _, _ = ds[0]
    assert img.shape == (3, 64, 64) and img.dtype == np.float32
    expected = np.full((64, 64, 3), 114, np.float32)
    expected[:32] = COLOUR
    np.testing.assert_array_equal(img.transpose(1, 2, 0), expected)
    assert labels.shape == (120, 5)
    cx = 64 - 12.8 if flip else 12.8
    np.testing.assert_allclose(labels[0], [1, cx, 9.6, 12.8, 12.8],
                               rtol=1e-6)
    assert not labels[1:].any()
    img, labels, _, _ = ds[1]
    # image 2: 32 x 64 (w x h), box (20, 50, 32, 64) -> cxcywh (26, 57,
    # 12, 14); the flip acts on the image before the letterbox pad, so
    # flipped: cx -> 32 - 26, and the image stays on the left
    np.testing.assert_allclose(labels[0], [0, 32 - 26 if flip else 26, 57,
                                           12, 14], rtol=1e-6)
    assert (img[:, :, 32:] == 114).all()
    src = cv2.imread(osp.join(two_images, 'images', 'b.png'))
    src = cv2.resize(src, (32, 64), interpolation=cv2.INTER_LINEAR)
    src = src[:, ::-1] if flip else src
    np.testing.assert_array_equal(img[:, :, :32].transpose(1, 2, 0), src)


def test_mosaic_samples_have_plausible_boxes(two_images):
    random.seed(0)
    np.random.seed(0)
    ds = build_megvii_pipeline(two_images, 'ann.json', 'images/', 64,
                               _pipeline(0.5))
    real = 0
    for i in range(8):
        img, labels, _, _ = ds[i % 2]
        assert img.shape == (3, 64, 64) and labels.shape == (120, 5)
        rows = labels[labels[:, 1:].any(1)]
        assert set(rows[:, 0].tolist()) <= {0.0, 1.0}
        cx, cy, w, h = rows[:, 1:].T
        # clipped to the canvas by the affine (and by MixUp's crop)
        assert (cx - w / 2 >= -1e-3).all() and (cx + w / 2 <= 64 + 1e-3).all()
        assert (cy - h / 2 >= -1e-3).all() and (cy + h / 2 <= 64 + 1e-3).all()
        # TrainTransform keeps the boxes wider and taller than 1 px; when
        # none is, it falls back to all its input boxes, degenerate ones
        # included (Megvii's data_augment.py)
        real += int((np.minimum(w, h) > 1).sum())
    assert real >= 1


def test_settings_come_from_our_pipeline():
    assert megvii_settings(_pipeline(0.5)) == dict(
        degrees=10.0, translate=0.1, mosaic_scale=(0.1, 2), shear=2.0,
        mixup_scale=(0.8, 1.6), flip_prob=0.5)
    pipeline = _pipeline(0.5)
    pipeline[3]['hue_delta'] = 10
    with pytest.raises(ValueError, match='hue_delta: Megvii has 5 fixed'):
        megvii_settings(pipeline)
    with pytest.raises(ValueError, match=r"missing \['MixUp'\]"):
        megvii_settings([t for t in _pipeline(0.5) if t['type'] != 'MixUp'])


def test_targets_are_padded_cxcywh():
    sample = DetDataSample()
    sample.gt_instances = InstanceData(
        bboxes=torch.tensor([[10., 20., 30., 60.]]),
        labels=torch.tensor([3]))
    targets = mv.megvii_targets([sample, DetDataSample(
        gt_instances=InstanceData(bboxes=torch.zeros(0, 4),
                                  labels=torch.zeros(0).long()))], 4)
    assert targets.shape == (2, 4, 5)
    assert targets[0, 0].tolist() == [3, 20, 40, 20, 40]
    assert not targets[0, 1:].any() and not targets[1].any()
    with pytest.raises(ValueError, match='more than max_labels=0'):
        mv.megvii_targets([sample], 0)


def test_nms_stand_in_has_torchvision_semantics():
    boxes = torch.tensor([[0., 0., 10., 10.], [1., 0., 11., 10.],
                          [1., 0., 11., 10.], [20., 20., 30., 30.]])
    scores = torch.tensor([0.9, 0.8, 0.7, 0.6])
    # IoU(0, 1) = 90 / 110 > 0.65: 1 goes; 2 is another class, 3 is apart
    keep = mv._batched_nms(boxes, scores, torch.tensor([0, 0, 1, 0]), 0.65)
    assert keep.tolist() == [0, 2, 3]
    assert mv._nms(boxes, scores, 0.65).tolist() == [0, 3]
    # at 0.85, 1 stays (IoU 0.818) and suppresses its copy 2 (IoU 1)
    assert mv._nms(boxes, scores, 0.85).tolist() == [0, 1, 3]


def test_our_weights_load_into_megvii_bit_for_bit():
    torch.manual_seed(0)
    ours = build_detector('ours', 'nano')
    inputs = bgr_images(1, 64, seed=1)
    with torch.no_grad():  # random BN statistics: every key matters
        randomise(ours, inputs, seed=2, forward=lambda m, x: m._forward(x))
    megvii = mv.load_ours_into_megvii(mv.build_megvii('nano'),
                                      ours.state_dict())
    with torch.no_grad():
        expected = ours._forward(inputs)
    actual = mv.megvii_head_outputs(megvii, inputs)
    for exp_level, act_level in zip(expected, actual):
        for e, a in zip(exp_level, act_level):
            assert torch.equal(e, a)
    state = dict(ours.state_dict())
    state.pop('bbox_head.multi_level_conv_obj.0.bias')
    with pytest.raises(ValueError,
                       match='missing .*multi_level_conv_obj.0.bias'):
        mv.megvii_state_dict_from_ours(megvii, state)
