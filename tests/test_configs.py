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

#: Published parameter counts at 80 classes (Megvii README "Benchmark" and
#: docs/model_zoo.md: 0.91 M ... 99.1 M; these exact counts are those of
#: Megvii's exps/default/yolox_*.py models, identical to mmdet's builds).
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
    if cfg.model.backbone.type == 'Darknet':  # dark5 ends with 1x1 -> 512
        assert list(neck.in_channels) == [256, 512, 512]
    else:
        w = cfg.model.backbone.widen_factor
        assert list(neck.in_channels) == [int(c * w)
                                          for c in (256, 512, 1024)]
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


def _count(module) -> int:
    return sum(p.numel() for p in module.parameters())


def _build(name):
    cfg = Config.fromfile(osp.join(ROOT, 'configs', name))
    with DefaultScope.overwrite_default_scope('yolox_mm'):
        return MODELS.build(cfg.model)


def test_darknet53_parameter_counts():
    """Megvii's YOLOX-DarkNet53 at 80 classes (Megvii's README
    63.7 M; module tree of yolox/models/darknet.py and yolo_fpn.py): backbone 52,651,744, YOLOFPN 3,692,544, head with its
    stems 7,380,479 (our stems are the neck's out_convs)."""
    model = _build('yolox_darknet53_8xb8-300e_coco.py')
    stems = _count(model.neck.out_convs)
    assert _count(model.backbone) == 52_651_744
    assert _count(model.neck) - stems == 3_692_544
    assert _count(model.bbox_head) + stems == 7_380_479
    assert _count(model) == 63_724_767


@pytest.mark.parametrize('base,e2e,delta', [
    ('yolox_darknet53_8xb8-300e_coco.py',
     'yolox_darknet53_e2e_8xb8-300e_coco.py', 3_542_787),
    ('yolox_s_8xb8-300e_coco.py', 'yolox_s_e2e_8xb8-300e_coco.py',
     886_659),
])
def test_end_to_end_parameter_counts(base, e2e, delta):
    """The selector adds 3 x (2 x (c*c*9 + 2c) + c + 1) parameters (c =
    feat_channels): 3,542,787 at c = 256, Table 2's 63.72 M -> 67.27 M; the
    other parameters are the base model's, key for key."""
    base_model, e2e_model = _build(base), _build(e2e)
    assert _count(e2e_model) - _count(base_model) == delta
    c = e2e_model.bbox_head.feat_channels
    assert delta == 3 * (2 * (c * c * 9 + 2 * c) + c + 1)
    new = set(e2e_model.state_dict()) - set(base_model.state_dict())
    assert set(base_model.state_dict()) <= set(e2e_model.state_dict())
    assert all(k.startswith(('bbox_head.multi_level_pss_convs.',
                             'bbox_head.multi_level_conv_pss.'))
               for k in new) and new
    if base.startswith('yolox_darknet53'):
        assert _count(e2e_model) == 67_267_554


def test_forward_of_a_built_config():
    cfg = Config.fromfile(
        osp.join(ROOT, 'configs', 'yolox_nano_8xb8-300e_coco.py'))
    with DefaultScope.overwrite_default_scope('yolox_mm'):
        model = MODELS.build(cfg.model).eval()
    with torch.no_grad():
        cls, reg, obj = model._forward(torch.zeros(1, 3, 64, 64))
    assert [tuple(c.shape) for c in cls] == [(1, 80, 8, 8), (1, 80, 4, 4),
                                            (1, 80, 2, 2)]
