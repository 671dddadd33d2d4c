"""Every config loads, dumps (Config.dump) and builds; parameter counts."""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

import yolox_mm  # noqa: F401
from yolox_mm.registry import MODELS

ROOT = osp.join(osp.dirname(__file__), '..')
CONFIGS = sorted(
    osp.relpath(p, ROOT)
    for pattern in ('*.py', 'custom/*.py')
    for p in glob.glob(osp.join(ROOT, 'configs', pattern)))

#: Published parameter counts at 80 classes (Megvii README / model zoo,
#: identical to mmdet's builds; REFERENCE.md section B).
PARAMS = {
    'nano': 912_159,
    'tiny': 5_055_855,
    's': 8_968_255,
    'm': 25_326_495,
    'l': 54_208_895,
    'x': 99_071_455,
}


def test_configs_found():
    names = {osp.basename(p) for p in CONFIGS}
    for scale in PARAMS:
        assert f'yolox_{scale}_8xb8-300e_coco.py' in names


@pytest.mark.parametrize('path', CONFIGS)
def test_config_loads_dumps_and_builds(path, tmp_path):
    cfg = Config.fromfile(osp.join(ROOT, path))
    assert cfg.default_scope == 'yolox_mm'
    dumped = tmp_path / 'dumped.py'
    cfg.dump(str(dumped))
    again = Config.fromfile(str(dumped))
    assert again.model == cfg.model
    with DefaultScope.overwrite_default_scope('yolox_mm'):
        model = MODELS.build(cfg.model)
    # widths are consistent: neck inputs are the backbone outputs, head
    # input is the neck output
    neck, head = cfg.model.neck, cfg.model.bbox_head
    w = cfg.model.backbone.widen_factor
    assert list(neck.in_channels) == [int(c * w) for c in (256, 512, 1024)]
    assert head.in_channels == neck.out_channels
    assert type(model).__module__.startswith('yolox_mm.')
    assert type(model.bbox_head).__module__.startswith('yolox_mm.')


@pytest.mark.parametrize('scale,count', sorted(PARAMS.items()))
def test_published_parameter_counts(scale, count):
    cfg = Config.fromfile(
        osp.join(ROOT, 'configs', f'yolox_{scale}_8xb8-300e_coco.py'))
    with DefaultScope.overwrite_default_scope('yolox_mm'):
        model = MODELS.build(cfg.model)
    assert sum(p.numel() for p in model.parameters()) == count


def test_forward_of_a_built_config():
    cfg = Config.fromfile(
        osp.join(ROOT, 'configs', 'yolox_nano_8xb8-300e_coco.py'))
    with DefaultScope.overwrite_default_scope('yolox_mm'):
        model = MODELS.build(cfg.model).eval()
    with torch.no_grad():
        cls, reg, obj = model._forward(torch.zeros(1, 3, 64, 64))
    assert [tuple(c.shape) for c in cls] == [(1, 80, 8, 8), (1, 80, 4, 4),
                                            (1, 80, 2, 2)]
