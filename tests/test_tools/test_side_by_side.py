""":mod:`yolox_mm.analysis.side_by_side`: the mmdet config derived from ours,
the config visitor and the report tables (unit tests), and the CLI
``tools/analysis_tools/side_by_side.py --smoke`` end to end (slow).

Reference: mmdet 3.3.0, whose registries must resolve every type of the
derived config without yolox_mm.
"""
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch.nn as nn
from mmengine.config import Config
from mmengine.registry import DefaultScope

from yolox_mm.analysis.side_by_side import derive as sbs
from yolox_mm.analysis.side_by_side import report
from yolox_mm.analysis.side_by_side.config_walk import DROP, walk

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / 'tools' / 'analysis_tools' / 'side_by_side.py'
TREE_CONFIG = REPO / 'configs' / 'yolox_nano_1xb4-200e_deepforest.py'


@pytest.fixture(scope='module')
def derived():
    cfg = Config.fromfile(str(TREE_CONFIG))
    mmdet_cfg, changes = sbs.derive_mmdet_config(cfg)
    return cfg, mmdet_cfg, changes


def _types(tree):
    out = []

    def visit(path, d):
        if isinstance(d.get('type'), str):
            out.append(d['type'])
        return d

    walk(tree, visit)
    return out


def test_walk_visits_parents_first_drops_and_copies():
    shared = dict(type='B', x=1)
    tree = dict(a=dict(type='A', child=shared), b=[shared, dict(type='C')],
                c=(1, dict(type='D')))
    seen = []

    def visit(path, d):
        seen.append((path, d.get('type')))
        if d.get('type') == 'C':
            return DROP
        d.pop('x', None)
        return d

    out = walk(tree, visit)
    assert seen == [('', None), ('a', 'A'), ('a.child', 'B'), ('b[0]', 'B'),
                    ('b[1]', 'C'), ('c[1]', 'D')]
    assert out == dict(a=dict(type='A', child=dict(type='B')),
                       b=[dict(type='B')], c=(1, dict(type='D')))
    assert type(out['c']) is tuple
    # the input is untouched and the shared dict is no longer shared
    assert shared == dict(type='B', x=1) and len(tree['b']) == 2
    assert out['a']['child'] is not out['b'][0]
    assert walk(dict(type='C'), visit) is DROP


def test_derived_config_types_all_resolve_in_mmdet(derived):
    _, mmdet_cfg, _ = derived
    d = mmdet_cfg.to_dict()
    assert d['default_scope'] == 'mmdet'
    assert 'custom_imports' not in d
    assert sbs.unresolved_types(d) == []
    types = _types(d)
    ours = sbs.our_registered_types()
    for t in types:
        assert not t.startswith('yolox_mm.'), t
        if t in ours:  # a name we also register: must be mmdet's there
            cls = sbs.resolve_in_mmdet(t)
            assert cls.__module__.startswith(('mmdet.', 'mmcv.')), (t, cls)
    for t in ('YOLOX', 'CSPDarknet', 'YOLOXPAFPN', 'YOLOXHead',
              'SimOTAAssigner', 'Mosaic', 'MultiImageMixDataset',
              'YOLOXModeSwitchHook'):
        assert t in types, t
        assert sbs.resolve_in_mmdet(t).__module__.startswith('mmdet.'), t
    assert 'YOLOXMixImageDataset' not in types
    assert 'DeterministicResumeHook' not in str(d)
    assert 'cache_images' not in d['train_dataloader']['dataset']
    assert d['model']['backbone']['spp_kernal_sizes'] == (5, 9, 13)
    # our collate (pseudo_collate + one shared buffer) -> mmengine's own
    assert d['train_dataloader']['collate_fn'] == dict(type='pseudo_collate')
    assert sbs.resolve_in_mmdet('pseudo_collate').__module__ == \
        'mmengine.dataset.utils'


def test_derived_mmdet_model_and_hooks_are_mmdet_classes(derived):
    from mmdet.registry import HOOKS, MODELS
    _, mmdet_cfg, _ = derived
    with DefaultScope.overwrite_default_scope('mmdet'):
        model = MODELS.build(mmdet_cfg.model)
        # as Runner.register_hook: the priority is the Runner's
        hooks = [
            HOOKS.build({k: v
                         for k, v in h.items() if k != 'priority'})
            for h in mmdet_cfg.custom_hooks
        ]
    assert type(model).__module__.startswith('mmdet.')
    for name, m in model.named_modules():
        assert not type(m).__module__.startswith('yolox_mm'), name
    assert type(model.backbone).__module__.startswith('mmdet.')
    assert type(model.bbox_head).__module__.startswith('mmdet.')
    # our act_cfg (SiLU) builds torch's SiLU inside mmdet's modules
    acts = {type(m) for m in model.modules()
            if isinstance(m, nn.SiLU)}
    assert acts == {nn.SiLU}
    for hook in hooks:
        assert not type(hook).__module__.startswith('yolox_mm'), hook
    assert type(hooks[0]).__module__.startswith('mmdet.')


def test_derivation_reports_every_change(derived):
    cfg, _, changes = derived
    text = '\n'.join(changes)
    assert "set    default_scope: 'yolox_mm' -> 'mmdet'" in text
    assert 'drop   custom_imports' in text
    assert ('drop   train_dataloader.dataset.cache_images=True (not an '
            'argument of MultiImageMixDataset)') in text
    assert 'DeterministicResumeHook (yolox_mm only' in text
    assert ('rename model.backbone.spp_kernel_sizes -> spp_kernal_sizes'
            in text)
    assert ('map    train_dataloader.dataset.type: YOLOXMixImageDataset -> '
            'MultiImageMixDataset (mmdet.') in text
    assert "keep   act_cfg type='SiLU'" in text
    assert ('map    train_dataloader.collate_fn.type: '
            'yolox_mm.shared_pseudo_collate -> pseudo_collate '
            '(mmengine.dataset.utils.pseudo_collate)') in text
    assert sbs.model_activations(cfg.to_dict()) == ['SiLU']
    # the hook priority is the Runner's, not the hook's argument: kept
    assert not any('priority' in c for c in changes)
    # our config is not modified
    assert cfg.model.type == 'YOLOX'
    assert cfg.default_scope == 'yolox_mm'


def test_unknown_yolox_mm_type_raises():
    from mmengine.hooks import Hook
    from yolox_mm.registry import HOOKS

    class SideBySideProbeHook(Hook):
        pass

    HOOKS.register_module(module=SideBySideProbeHook)
    try:
        cfg = Config.fromfile(str(TREE_CONFIG))
        cfg.custom_hooks.append(dict(type='SideBySideProbeHook'))
        with pytest.raises(sbs.YoloxMMOnlyTypeError,
                           match='SideBySideProbeHook'):
            sbs.derive_mmdet_config(cfg)
    finally:
        HOOKS.module_dict.pop('SideBySideProbeHook', None)
    cfg = Config.fromfile(str(TREE_CONFIG))
    cfg.model.neck.type = 'yolox_mm.SomethingNew'
    with pytest.raises(sbs.YoloxMMOnlyTypeError,
                       match='yolox_mm.SomethingNew'):
        sbs.derive_mmdet_config(cfg)
    # a type that resolves nowhere is also an error
    cfg = Config.fromfile(str(TREE_CONFIG))
    cfg.model.bbox_head.loss_obj.type = 'NoSuchLoss'
    with pytest.raises(sbs.YoloxMMOnlyTypeError, match='NoSuchLoss'):
        sbs.derive_mmdet_config(cfg)


def test_mode_switch_skips_mmdets_mosaic(derived):
    """mmdet's MultiImageMixDataset skips a transform by its config type
    string: the derived pipeline must name Mosaic exactly as the hook's
    skip_type_keys, or Mosaic stays on in the last epochs."""
    from mmdet.registry import DATASETS
    _, mmdet_cfg, _ = derived
    hook = next(h for h in mmdet_cfg.custom_hooks
                if h.type == 'YOLOXModeSwitchHook')
    assert 'skip_type_keys' not in hook  # mmdet's default applies
    with DefaultScope.overwrite_default_scope('mmdet'):
        ds_cfg = mmdet_cfg.train_dataloader.dataset.to_dict()
        ds_cfg['lazy_init'] = True
        ds = DATASETS.build(ds_cfg)
    assert type(ds).__name__ == 'MultiImageMixDataset'
    ds.update_skip_type_keys(('Mosaic', 'RandomAffine', 'MixUp'))
    skipped = [t for t in ds.pipeline_types if t in ds._skip_type_keys]
    assert skipped == ['Mosaic', 'RandomAffine']
    # a prefixed type would not be skipped: the derivation refuses it
    bad = mmdet_cfg.to_dict()
    bad['train_dataloader']['dataset']['pipeline'][0]['type'] = \
        'mmdet.Mosaic'
    with pytest.raises(sbs.YoloxMMOnlyTypeError, match='mmdet.Mosaic'):
        sbs.check_skip_types(bad)


def _run(impl, seed, m, m50, curve=()):
    return dict(ok=True, impl=impl, seed=seed, bbox_mAP=m, bbox_mAP_50=m50,
                train_wall_s=600.0, s_per_epoch=3.0, epochs=200,
                equals_final_val=True,
                val_curve=[dict(epoch=e, bbox_mAP=a, bbox_mAP_50=b)
                           for e, a, b in curve])


RESULTS = [
    _run('ours', 0, 0.050, 0.200,
         [(190, 0.05, 0.20), (195, 0.05, 0.22), (200, 0.05, 0.21)]),
    _run('ours', 1, 0.060, 0.230),
    _run('mmdet', 0, 0.055, 0.210),
    dict(ok=False, impl='mmdet', seed=1, error='training exited with 1'),
]


def test_report_rows_mean_and_spread():
    _, runs = report.run_rows(RESULTS)
    assert runs[0] == ['ours', '0', '0.050', '0.200', '10.0', '3.00', '200',
                       'yes']
    assert runs[3] == ['mmdet', '1', 'failed: training exited with 1', '',
                       '', '', '', '']
    # mean and spread (max - min) over the successful seeds
    _, impls = report.impl_rows(RESULTS)
    assert impls == [['ours', '2', '0.055', '0.010', '0.215', '0.030', '3.00'],
                     ['mmdet', '1', '0.055', '- (1 seed)', '0.210',
                      '- (1 seed)', '3.00']]
    # last 3 evaluations of ours seed 0: mAP@0.5 0.20, 0.22, 0.21 -> mean
    # 0.21, std 0.01, range 0.02; the other runs have fewer than 2
    header, noise = report.noise_rows(RESULTS, 3)
    assert noise == [['ours', '0', '190-200 (3)', '0.0500', '0.0000',
                      '0.2100', '0.0100', '0.020']]
    assert len(header) == len(noise[0])
    _, noise_impl = report.noise_impl_rows(RESULTS, 3)
    assert noise_impl == [['ours', '1', '0.0500', '- (1 seed)', '0.2100',
                           '- (1 seed)']]
    header, curves = report.curve_rows(RESULTS)
    assert header == ['epoch', 'ours s0']
    assert curves[1] == ['195', '0.220 (0.050)']


def test_make_table_renders_the_rows_as_markdown():
    table = report.make_table(RESULTS, noise_evals=3)
    assert '| ours | 2 | 0.055 | 0.010 | 0.215 | 0.030 | 3.00 |' in table
    assert '| mmdet | 1 | failed: training exited with 1 | | | | | |' in table
    assert '|---|---|---|---|---|---|---|---|' in table
    assert table.count('\n| ours | 0 |') == 2  # run table and noise table
    # no periodic evaluation: no noise or curve table
    plain = report.make_table([_run('ours', 0, 0.05, 0.2)])
    assert 'val evaluations' not in plain and '| epoch |' not in plain


@pytest.mark.slow
def test_smoke_end_to_end(tmp_path):
    """Both trainings (2 epochs, 2 images), both tests, the table. Four
    subprocesses, two at a time: about 65 s on an idle 2-core machine (mostly
    imports and start-up), about 3 min on a busy one."""
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), '--smoke', '--jobs', '2',
         '--work-dir', str(tmp_path)],
        cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert 'drop   custom_hooks[3]: DeterministicResumeHook' in proc.stdout
    md = (tmp_path / 'side_by_side.md').read_text()
    for impl in ('ours', 'mmdet'):
        res = json.loads((tmp_path / f'{impl}_seed0' /
                          'result.json').read_text())
        assert res['ok'] and res['epochs'] == 2
        assert res['equals_final_val'] is True  # test == val at the end
        assert 0.0 <= res['bbox_mAP'] <= 1.0
        assert f'| {impl} | 0 | {res["bbox_mAP"]:.3f} | ' in md
    mmdet = json.loads((tmp_path / 'mmdet_seed0' / 'result.json').read_text())
    assert mmdet['yolox_mm_imported'] is False
    assert "default_scope = 'mmdet'" in (tmp_path / 'configs' /
                                         'mmdet_seed0.py').read_text()
