"""yolox_mm.utils.config_deltas on hand-made lists, and inside a config
file loaded by mmengine."""
import pytest
from mmengine.config import Config

from yolox_mm.utils.config_deltas import (drop_type, set_fields, with_canvas,
                                          yolox_lr_schedule)

PIPELINE = [
    dict(type='Mosaic', img_scale=(640, 640), pad_val=114.0),
    dict(type='RandomAffine', scaling_ratio_range=(0.1, 2),
         border=(-320, -320)),
    dict(type='MixUp', img_scale=(640, 640), ratio_range=(0.8, 1.6)),
    dict(type='RandomFlip', prob=0.5),
    dict(type='Resize', scale=(640, 640), keep_ratio=True),
    dict(type='PackDetInputs'),
]


def test_set_fields_edits_copies_of_the_named_type_only():
    before = repr(PIPELINE)
    out = set_fields(PIPELINE, 'RandomAffine', scaling_ratio_range=(0.5, 1.5))
    assert out[1] == dict(type='RandomAffine', scaling_ratio_range=(0.5, 1.5),
                          border=(-320, -320))
    assert out[0] == PIPELINE[0] and out[2:] == PIPELINE[2:]
    assert repr(PIPELINE) == before  # the argument is not changed
    out[0]['pad_val'] = 0.0
    assert PIPELINE[0]['pad_val'] == 114.0  # copies, not views


def test_drop_type():
    out = drop_type(PIPELINE, 'MixUp')
    assert [t['type'] for t in out] == [
        'Mosaic', 'RandomAffine', 'RandomFlip', 'Resize', 'PackDetInputs']
    assert len(PIPELINE) == 6


@pytest.mark.parametrize('edit', [
    lambda items: set_fields(items, 'Mixup', prob=1.0),  # misspelt
    lambda items: drop_type(items, 'CutOut'),
])
def test_a_stale_edit_raises_naming_the_types(edit):
    with pytest.raises(ValueError, match=r"'Mosaic', 'RandomAffine'"):
        edit(PIPELINE)


def test_items_without_a_type_raise():
    with pytest.raises(TypeError, match='"type"'):
        set_fields([dict(prob=0.5)], 'RandomFlip', prob=1.0)


def test_with_canvas_sets_every_canvas_field():
    """(w, h) = (480, 352): Mosaic/MixUp img_scale and Resize scale (w, h);
    RandomAffine crops the 2h x 2w mosaic back with border (-w/2, -h/2) =
    (-240, -176)."""
    out = with_canvas(PIPELINE, (480, 352))
    assert out[0]['img_scale'] == (480, 352)
    assert out[1]['border'] == (-240, -176)
    assert out[1]['scaling_ratio_range'] == (0.1, 2)
    assert out[2]['img_scale'] == (480, 352)
    assert out[4]['scale'] == (480, 352)
    assert out[3] == PIPELINE[3] and out[5] == PIPELINE[5]
    # the canvas the pipeline has already: nothing changes
    assert with_canvas(PIPELINE, (640, 640)) == PIPELINE


@pytest.mark.parametrize('img_scale', [(416, ), (416.0, 416), (0, 416), 416])
def test_with_canvas_rejects_a_bad_canvas(img_scale):
    with pytest.raises(ValueError, match='two positive ints'):
        with_canvas(PIPELINE, img_scale)


def test_with_canvas_on_a_pipeline_without_canvas_transforms():
    with pytest.raises(ValueError, match='depends on the canvas'):
        with_canvas([dict(type='PackDetInputs')], (416, 416))


def test_yolox_lr_schedule_of_the_tree_job():
    """200 epochs, last 50, warm-up 3, lr 0.01: warm-up [0, 3), cosine
    [3, 150) with T_max 147 down to 0.0005, constant [150, 200)."""
    warmup, cosine, constant = yolox_lr_schedule(200, 50, 3, 0.01)
    assert (warmup['type'], warmup['begin'], warmup['end']) == (
        'QuadraticWarmupLR', 0, 3)
    assert (cosine['type'], cosine['begin'], cosine['end'],
            cosine['T_max']) == ('CosineAnnealingLR', 3, 150, 147)
    assert cosine['eta_min'] == pytest.approx(0.0005, rel=1e-12)
    assert (constant['type'], constant['begin'], constant['end'],
            constant['factor']) == ('ConstantLR', 150, 200, 1)
    assert all(s['by_epoch'] for s in (warmup, cosine, constant))
    assert warmup['convert_to_iter_based'] and cosine['convert_to_iter_based']


@pytest.mark.parametrize('args', [(20, 5, 0, 0.01), (20, 0, 3, 0.01),
                                  (20, 17, 3, 0.01)])
def test_yolox_lr_schedule_rejects_an_empty_phase(args):
    with pytest.raises(ValueError, match='at least one epoch'):
        yolox_lr_schedule(*args)


def test_in_a_config_file_only_the_values_remain(tmp_path):
    """mmengine drops the imported functions from the config: the dict and
    the dump hold the values only, and the dump loads back the same."""
    base = tmp_path / 'base.py'
    base.write_text(f'train_pipeline = {PIPELINE!r}\n')
    child = tmp_path / 'child.py'
    child.write_text(
        "_base_ = './base.py'\n"
        'from yolox_mm.utils.config_deltas import drop_type, with_canvas\n'
        'img_scale = (320, 256)\n'
        "train_pipeline = with_canvas(drop_type(_base_.train_pipeline, "
        "'MixUp'), img_scale)\n")
    cfg = Config.fromfile(str(child))
    assert set(cfg.keys()) == {'img_scale', 'train_pipeline'}
    assert [t.type for t in cfg.train_pipeline] == [
        'Mosaic', 'RandomAffine', 'RandomFlip', 'Resize', 'PackDetInputs']
    assert cfg.train_pipeline[1].border == (-160, -128)
    dumped = tmp_path / 'dumped.py'
    cfg.dump(str(dumped))
    assert Config.fromfile(str(dumped)).to_dict() == cfg.to_dict()
