"""A config written as mmdet projects write them, ``_base_ =
'mmdet::yolox/yolox_tiny_8xb8-300e_coco.py'``, loads and builds (issue 11
item 5). mmengine 0.10.7 finds mmdet's package data through
``pkg_resources``, which setuptools >= 81 no longer has; ``make setup``
pins setuptools 80.9.0 (``tools/setup_env.sh``)."""
import importlib.util

from mmengine.config import Config
from mmengine.registry import DefaultScope

#: mmdet's YOLOX-Tiny at 80 classes (README; Megvii 5.06 M), minus the
#: class convolutions of 77 classes: 3 levels x 77 x (96 weights + 1 bias)
TINY_3_CLASSES = 5_055_855 - 3 * 77 * (96 + 1)


def _params(model) -> int:
    return sum(p.numel() for p in model.parameters())


def test_pkg_resources_present():
    assert importlib.util.find_spec('pkg_resources') is not None, (
        'setuptools >= 81 has no pkg_resources, which mmengine 0.10.7 needs '
        "for 'mmdet::' bases; run `make setup` (pins setuptools 80.9.0)")


def test_mmdet_scoped_base(tmp_path):
    path = tmp_path / 'my_tiny.py'
    path.write_text("_base_ = 'mmdet::yolox/yolox_tiny_8xb8-300e_coco.py'\n"
                    'model = dict(bbox_head=dict(num_classes=3))\n')
    cfg = Config.fromfile(str(path))
    # mmdet's values, with the child's change on top
    assert cfg.default_scope == 'mmdet'
    assert cfg.model._scope_ == 'mmdet'
    assert (cfg.model.backbone.deepen_factor,
            cfg.model.backbone.widen_factor) == (0.33, 0.375)
    assert cfg.model.bbox_head.num_classes == 3
    assert cfg.test_dataloader.dataset.pipeline[1].scale == (416, 416)

    from mmdet.registry import MODELS
    with DefaultScope.overwrite_default_scope('mmdet'):
        model = MODELS.build(cfg.model)
    assert type(model).__module__.startswith('mmdet.')
    assert _params(model) == TINY_3_CLASSES == 5_033_448


def test_mmdet_scoped_base_with_our_head(tmp_path):
    """The plugin use of the README: mmdet's config, our head."""
    path = tmp_path / 'my_tiny.py'
    path.write_text(
        "_base_ = 'mmdet::yolox/yolox_tiny_8xb8-300e_coco.py'\n"
        "custom_imports = dict(imports=['yolox_mm'], "
        'allow_failed_imports=False)\n'
        "model = dict(bbox_head=dict(type='yolox_mm.YOLOXHead', "
        'num_classes=3))\n')
    cfg = Config.fromfile(str(path))
    from mmdet.registry import MODELS
    with DefaultScope.overwrite_default_scope('mmdet'):
        model = MODELS.build(cfg.model)
    assert type(model.bbox_head).__module__ == \
        'yolox_mm.models.dense_heads.yolox_head'
    assert _params(model) == TINY_3_CLASSES
