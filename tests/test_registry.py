"""Registry scope: our classes under default_scope='yolox_mm' and through
the ``yolox_mm.`` prefix from an mmdet project; mmdet's stay mmdet's."""
from mmengine.config import Config
from mmengine.registry import DefaultScope

HEAD = dict(num_classes=3, in_channels=8, feat_channels=8)


def test_mmdet_project_with_custom_imports(tmp_path):
    cfg_file = tmp_path / 'mmdet_style.py'
    cfg_file.write_text(
        "default_scope = 'mmdet'\n"
        "custom_imports = dict(imports=['yolox_mm'], "
        "allow_failed_imports=False)\n"
        "ours = dict(type='yolox_mm.YOLOXHead', num_classes=3, "
        "in_channels=8, feat_channels=8)\n"
        "theirs = dict(type='YOLOXHead', num_classes=3, in_channels=8, "
        "feat_channels=8)\n")
    cfg = Config.fromfile(str(cfg_file))
    import mmdet.models.dense_heads as mmdet_heads
    from mmdet.registry import MODELS as MMDET_MODELS

    import yolox_mm.models.dense_heads as our_heads
    with DefaultScope.overwrite_default_scope('mmdet'):
        ours = MMDET_MODELS.build(cfg.ours)
        theirs = MMDET_MODELS.build(cfg.theirs)
    assert type(ours) is our_heads.YOLOXHead
    assert type(theirs) is mmdet_heads.YOLOXHead


def test_yolox_mm_scope_resolves_ours_then_mmdet():
    import mmdet.models.losses as mmdet_losses

    from yolox_mm.models import CSPDarknet, SimOTAAssigner, YOLOXHead
    from yolox_mm.registry import MODELS, TASK_UTILS
    with DefaultScope.overwrite_default_scope('yolox_mm'):
        assert type(MODELS.build(dict(type='YOLOXHead', **HEAD))) is YOLOXHead
        assert MODELS.get('CSPDarknet') is CSPDarknet
        assert TASK_UTILS.get('SimOTAAssigner') is SimOTAAssigner
        # mmdet's generic components through the parent chain
        assert MODELS.get('IoULoss') is mmdet_losses.IoULoss
        # and mmdet's own YOLOX classes stay reachable with a prefix
        assert MODELS.get('mmdet.YOLOXHead').__module__.startswith('mmdet.')


def test_every_kind_of_component_resolves_under_our_scope():
    from mmengine.registry import (EVALUATOR, HOOKS, METRICS,
                                   PARAM_SCHEDULERS, TRANSFORMS, VISUALIZERS)
    # what Registry.build does under default_scope='yolox_mm' (as in the
    # Runner): switch to our node, then look the name up
    with DefaultScope.overwrite_default_scope('yolox_mm'):
        for registry, name in [(METRICS, 'CocoMetric'),
                               (TRANSFORMS, 'YOLOXHSVRandomAug'),
                               (TRANSFORMS, 'Mosaic'),
                               (HOOKS, 'YOLOXModeSwitchHook'),
                               (HOOKS, 'SyncNormHook'),
                               (PARAM_SCHEDULERS, 'QuadraticWarmupLR'),
                               (VISUALIZERS, 'DetLocalVisualizer'),
                               (EVALUATOR, 'Evaluator')]:
            with registry.switch_scope_and_registry('yolox_mm') as node:
                assert node.scope == 'yolox_mm', registry.name
                cls = node.get(name)
            assert cls is not None, (registry.name, name)
            if name in ('Mosaic', 'YOLOXModeSwitchHook'):
                assert cls.__module__.startswith('yolox_mm.'), name


def test_register_all_modules_sets_scope():
    from yolox_mm.utils import register_all_modules
    register_all_modules()
    assert DefaultScope.get_current_instance().scope_name == 'yolox_mm'
