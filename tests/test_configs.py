"""Every config loads, dumps (Config.dump) and builds; parameter counts;
the top-level knobs agree with the dicts built from them, and changing one
in the file that sets it changes those dicts (configs/README.md)."""
import argparse
import glob
import os.path as osp
import re
from pathlib import Path
from typing import List

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmengine.runner import Runner

import yolox_mm  # noqa: F401
from yolox_mm.registry import MODELS
from yolox_mm.utils.launch import add_launch_args, read_config

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
    assert again.to_dict() == cfg.to_dict()
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
    """Megvii's YOLOX-DarkNet53 at 80 classes (Megvii's README 63.7 M;
    module tree of yolox/models/darknet.py and yolo_fpn.py): backbone
    52,651,744, YOLOFPN 3,692,544, head with its stems 7,380,479 (our stems
    are the neck's out_convs)."""
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


# ---- knobs: the top-level variables a config derives its dicts from ----

ALL_CONFIGS = sorted(
    osp.relpath(p, ROOT)
    for p in glob.glob(osp.join(ROOT, 'configs', '**', '*.py'),
                       recursive=True)
    if '/deploy/' not in p)
TREE = osp.join(ROOT, 'configs', 'yolox_nano_1xb4-200e_deepforest.py')
CUSTOM = osp.join(ROOT, 'configs', 'custom', 'yolox_s_1xb8-100e_custom.py')


def _pipelines(cfg: Config) -> dict:
    """Every pipeline of ``cfg`` by where it is."""
    found = {k: cfg[k] for k in ('train_pipeline', 'test_pipeline')
             if k in cfg}
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        dataset = (cfg.get(loader) or {}).get('dataset', {})
        if 'pipeline' in dataset:
            found[f'{loader}.dataset.pipeline'] = dataset.pipeline
    return found


def _canvas_disagreements(cfg: Config) -> List[str]:
    w, h = cfg.img_scale
    wants = {'Mosaic': ('img_scale', (w, h)), 'MixUp': ('img_scale', (w, h)),
             'Resize': ('scale', (w, h)),
             'RandomAffine': ('border', (-w // 2, -h // 2))}
    out = []
    for where, pipeline in _pipelines(cfg).items():
        for t in pipeline:
            if t.type in wants:
                field, want = wants[t.type]
                if tuple(t[field]) != want:
                    out.append(f'{where} {t.type}.{field} = {t[field]}, '
                               f'img_scale = {cfg.img_scale}')
    return out


def _schedule_disagreements(cfg: Config) -> List[str]:
    """The YOLOX schedule: [0, warmup) warm-up, cosine to 0.05 x lr until
    max - last, constant for the last; the mode switch and the per-epoch
    evaluation cover the last epochs."""
    max_epochs, last = cfg.max_epochs, cfg.num_last_epochs
    warmup, cosine, constant = cfg.param_scheduler
    hook = [h for h in cfg.custom_hooks if h.type == 'YOLOXModeSwitchHook']
    got = dict(
        train_cfg_max_epochs=cfg.train_cfg.max_epochs,
        val_interval=cfg.train_cfg.val_interval,
        boundaries=[warmup.begin, warmup.end, cosine.begin, cosine.end,
                    constant.begin, constant.end],
        T_max=cosine.T_max,
        eta_min=round(cosine.eta_min, 15),
        lr=cfg.optim_wrapper.optimizer.lr,
        mode_switch=[h.num_last_epochs for h in hook],
        dynamic_intervals_ok=cfg.train_cfg.get('dynamic_intervals') in (
            None, [(max_epochs - last, 1)]))
    want = dict(
        train_cfg_max_epochs=max_epochs,
        val_interval=cfg.val_interval,
        boundaries=[0, cfg.warmup_epochs, cfg.warmup_epochs,
                    max_epochs - last, max_epochs - last, max_epochs],
        T_max=max_epochs - last - cfg.warmup_epochs,
        eta_min=round(0.05 * cfg.base_lr, 15),
        lr=cfg.base_lr,
        mode_switch=[last],
        dynamic_intervals_ok=True)
    return [f'{k} = {got[k]}, knobs say {want[k]}' for k in want
            if got[k] != want[k]]


def _unscoped(pipeline) -> list:
    """Without the ``_scope_`` mmengine puts into the items of a top-level
    list of a ``yolox_mm::`` base (and not into nested ones)."""
    return [{k: v for k, v in t.items() if k != '_scope_'} for t in pipeline]


def knob_disagreements(cfg: Config) -> List[str]:
    """Where a top-level knob of ``cfg`` (``img_scale``, ``max_epochs``,
    ``num_last_epochs``, ``warmup_epochs``, ``base_lr``, ``val_interval``,
    ``batch_size``) disagrees with a dict that uses it, and where a
    top-level pipeline is not the one its dataloader uses."""
    out = []
    pipelines = _pipelines(cfg)
    for top, used in (('train_pipeline', 'train_dataloader.dataset.pipeline'),
                      ('test_pipeline', 'val_dataloader.dataset.pipeline')):
        if top in pipelines and used in pipelines \
                and _unscoped(pipelines[top]) != _unscoped(pipelines[used]):
            out.append(f'{top} is not {used}')
    if 'img_scale' in cfg:
        out += _canvas_disagreements(cfg)
    if 'param_scheduler' in cfg and 'max_epochs' in cfg:
        out += _schedule_disagreements(cfg)
    if 'batch_size' in cfg:
        for loader in ('train_dataloader', 'val_dataloader'):
            if cfg[loader].batch_size != cfg.batch_size:
                out.append(f'{loader}.batch_size = {cfg[loader].batch_size}'
                           f', batch_size = {cfg.batch_size}')
    return out


@pytest.mark.parametrize('path', ALL_CONFIGS)
def test_knobs_agree_with_the_dicts(path):
    cfg = read_config(osp.join(ROOT, path))
    assert knob_disagreements(cfg) == []


def _child(tmp_path: Path, lines: str) -> str:
    path = tmp_path / 'child.py'
    path.write_text(f'_base_ = {TREE!r}\n{lines}')
    return str(path)


def test_a_knob_set_alone_in_a_child_is_caught(tmp_path):
    """mmengine's trap (STYLE.md 4.7): a knob re-assigned in a child does
    not reach the dicts its base built; the knob check says where."""
    cfg = read_config(_child(tmp_path, 'max_epochs = 20\n'
                                       'img_scale = (320, 256)\n'))
    found = knob_disagreements(cfg)
    assert 'train_cfg_max_epochs = 200, knobs say 20' in found
    assert 'boundaries = [0, 3, 3, 185, 185, 200], knobs say ' \
           '[0, 3, 3, 5, 5, 20]' in found
    assert ('train_dataloader.dataset.pipeline Mosaic.img_scale = '
            '(416, 416), img_scale = (320, 256)') in found


def _edit_knobs(source: str, dest: Path, **values) -> str:
    """A copy of the config ``source`` with its lines ``name = ...``
    replaced by ``values`` and its ``_base_`` made absolute."""
    text = Path(source).read_text()
    text = re.sub(r"^_base_ = '(.*)'$",
                  lambda m: '_base_ = ' + repr(
                      osp.join(osp.dirname(source), m[1])),
                  text, count=1, flags=re.M)
    for name, value in values.items():
        text, n = re.subn(rf'^{name} = .*$', f'{name} = {value}', text,
                          count=1, flags=re.M)
        assert n == 1, f'{name} is not a line of {source}'
    dest.write_text(text)
    return str(dest)


def test_tree_knobs_propagate(tmp_path):
    """Changing the knob lines of the tree config changes every dict built
    from them: 20 epochs, last 5, warm-up 2, lr 0.02, canvas 320 x 256."""
    cfg = read_config(_edit_knobs(
        TREE, tmp_path / 'tree.py', max_epochs='20', num_last_epochs='5',
        warmup_epochs='2', base_lr='0.02', img_scale='(320, 256)',
        val_interval='4', batch_size='2'))
    assert knob_disagreements(cfg) == []
    assert [(s.type, s.begin, s.end) for s in cfg.param_scheduler] == [
        ('QuadraticWarmupLR', 0, 2), ('CosineAnnealingLR', 2, 15),
        ('ConstantLR', 15, 20)]
    assert cfg.param_scheduler[1].T_max == 13
    assert cfg.param_scheduler[1].eta_min == pytest.approx(0.001)
    assert cfg.optim_wrapper.optimizer.lr == 0.02
    assert cfg.custom_hooks[0].num_last_epochs == 5
    assert (cfg.train_cfg.max_epochs, cfg.train_cfg.val_interval) == (20, 4)
    assert cfg.default_hooks.checkpoint.interval == 4
    assert cfg.train_dataloader.batch_size == 2
    mosaic, affine = cfg.train_dataloader.dataset.pipeline[:2]
    assert (mosaic.img_scale, mosaic.prob) == ((320, 256), 1.0)
    assert affine.border == (-160, -128)
    assert cfg.val_dataloader.dataset.pipeline[1].scale == (320, 256)


def test_custom_template_knobs_propagate(tmp_path):
    """The template's first block, edited as a user does
    (docs/custom_dataset.md): 3 classes, 30 epochs, canvas 512."""
    cfg = read_config(_edit_knobs(
        CUSTOM, tmp_path / 'mine.py', classes="('a', 'b', 'c')",
        max_epochs='30', num_last_epochs='4', warmup_epochs='1',
        img_scale='(512, 512)', batch_size='16'))
    assert knob_disagreements(cfg) == []
    assert cfg.model.bbox_head.num_classes == 3
    assert cfg.train_dataloader.dataset.dataset.metainfo.classes == (
        'a', 'b', 'c')
    assert [(s.begin, s.end) for s in cfg.param_scheduler] == [
        (0, 1), (1, 26), (26, 30)]
    assert cfg.train_cfg.dynamic_intervals == [(26, 1)]
    assert cfg.optim_wrapper.optimizer.lr == pytest.approx(0.01 * 16 / 64)
    assert cfg.model.data_preprocessor.batch_augments[0].random_size_range \
        == (384, 640)
    assert cfg.train_dataloader.dataset.pipeline[1].border == (-256, -256)
    # the base's pipeline at the canvas: s has no MixUp; l keeps it
    assert 'MixUp' not in [t.type for t in cfg.train_pipeline]
    # the pipelines follow the scale chosen in the first block: l keeps MixUp
    cfg_l = read_config(
        _custom_with_base(tmp_path, 'yolox_l_8xb8-300e_coco.py'))
    assert [t.img_scale for t in cfg_l.train_pipeline
            if t.type == 'MixUp'] == [(640, 640)]


def _custom_with_base(tmp_path: Path, scale_config: str) -> str:
    text = Path(CUSTOM).read_text().replace(
        "'../yolox_s_8xb8-300e_coco.py'",
        repr(osp.join(ROOT, 'configs', scale_config)))
    path = tmp_path / 'mine_base.py'
    path.write_text(text)
    return str(path)
# ---- scales, recipes, and what users type ----

@pytest.mark.parametrize('path', CONFIGS)
def test_num_csp_blocks_follow_the_depth(path):
    """CSP blocks per stage = round(3 x deepen_factor) in the backbone
    (CSPDarknet scales its base depths 3 and 9 the same way) and in the
    neck: 1 for nano/tiny/s (0.33), 2 for m (0.67), 3 for l, 4 for x."""
    model = Config.fromfile(osp.join(ROOT, path)).model
    if model.backbone.type != 'CSPDarknet':
        pytest.skip('Darknet-53 / YOLOFPN have no deepen_factor')
    assert model.neck.num_csp_blocks == round(3 * model.backbone.deepen_factor)


def _types(pipeline) -> list:
    return [t.type for t in pipeline]


@pytest.mark.parametrize('scale,canvas,mixup,affine,mosaic_prob,sizes', [
    ('l', (640, 640), True, (0.1, 2), None, (480, 800)),
    ('m', (640, 640), True, (0.1, 2), None, (480, 800)),
    ('x', (640, 640), True, (0.1, 2), None, (480, 800)),
    ('s', (640, 640), False, (0.5, 1.5), None, (480, 800)),
    ('tiny', (416, 416), False, (0.5, 1.5), None, (320, 640)),
    ('nano', (416, 416), False, (0.5, 1.5), 0.5, (320, 640)),
])
def test_scale_augmentation(scale, canvas, mixup, affine, mosaic_prob, sizes):
    """Paper section 3 ("Model size and data augmentation"): MixUp and
    mosaic scale 0.1-2 for m/l/x, neither for s/tiny/nano (scale 0.5-1.5);
    Megvii's tiny/nano exps: 416 canvas, multi-scale 320-640, nano's
    mosaic_prob 0.5."""
    cfg = read_config(
        osp.join(ROOT, 'configs', f'yolox_{scale}_8xb8-300e_coco.py'))
    train = cfg.train_dataloader.dataset.pipeline
    assert ('MixUp' in _types(train)) == mixup
    assert train[1].type == 'RandomAffine' and \
        train[1].scaling_ratio_range == affine
    assert train[0].get('prob') == mosaic_prob
    assert cfg.img_scale == canvas
    assert cfg.model.data_preprocessor.batch_augments[0].random_size_range \
        == sizes
    assert cfg.val_dataloader.dataset.pipeline[1].scale == canvas
    assert cfg.test_dataloader == cfg.val_dataloader


def test_tree_recipe():
    """The recipe `make trees` was recorded with (README): 200 epochs, the
    last 15 without Mosaic, 3 warm-up epochs, lr 0.04 at batch 4, 416
    canvas, Mosaic on every image, scale 0.75-1.25, multi-scale 352-480,
    evaluation and checkpoint every 50 epochs, NMS at IoU 0.5, NHWC
    weights, seed 0."""
    cfg = read_config(TREE)
    assert (cfg.max_epochs, cfg.num_last_epochs, cfg.warmup_epochs,
            cfg.base_lr, cfg.batch_size, cfg.img_scale, cfg.val_interval) \
        == (200, 15, 3, 0.04, 4, (416, 416), 50)
    assert cfg.optim_wrapper.optimizer.lr == 0.04
    assert cfg.param_scheduler[1].eta_min == pytest.approx(0.002)
    assert knob_disagreements(cfg) == []
    train = cfg.train_dataloader.dataset.pipeline
    assert _types(train) == [
        'Mosaic', 'RandomAffine', 'YOLOXHSVRandomAug', 'RandomFlip',
        'Resize', 'Pad', 'FilterAnnotations', 'PackDetInputs']
    assert (train[0].prob, train[1].scaling_ratio_range) == (1.0,
                                                             (0.75, 1.25))
    assert cfg.model.data_preprocessor.batch_augments[0].random_size_range \
        == (352, 480)
    assert cfg.train_cfg.dynamic_intervals is None
    assert cfg.model.bbox_head.num_classes == 1
    assert (cfg.model.test_cfg.score_thr, cfg.model.test_cfg.max_per_img,
            cfg.model.test_cfg.nms.iou_threshold) == (0.001, 300, 0.5)
    assert cfg.randomness.seed == 0
    assert _types(cfg.custom_hooks) == [
        'YOLOXModeSwitchHook', 'SyncNormHook', 'EMAHook',
        'DeterministicResumeHook', 'ChannelsLastHook']


def test_main_job_recipe():
    """`make trees` runs the tree recipe cut to 150 epochs: the same last 15
    and warm-up 3, so the cosine phase spans epochs 3-135 (T_max 132), and
    nothing else differs from the 200-epoch config."""
    main = read_config(osp.join(ROOT, 'configs',
                                'yolox_nano_1xb4-150e_deepforest.py'))
    tree = read_config(TREE)
    assert (main.max_epochs, main.train_cfg.max_epochs) == (150, 150)
    assert [(s.type, s.begin, s.end) for s in main.param_scheduler] == [
        ('QuadraticWarmupLR', 0, 3), ('CosineAnnealingLR', 3, 135),
        ('ConstantLR', 135, 150)]
    assert main.param_scheduler[1].T_max == 132
    assert main.custom_hooks[0].num_last_epochs == 15
    differ = {k for k in set(main) | set(tree) if main.get(k) != tree.get(k)}
    assert differ == {'max_epochs', 'train_cfg', 'param_scheduler'}
    assert main.train_cfg.val_interval == tree.train_cfg.val_interval

def test_pss_recipe():
    """Selector training: 40 epochs, linear warm-up from 0.1 x lr for one
    epoch, then the YOLOX cosine/constant phases; FreezeExceptHook first."""
    cfg = read_config(
        osp.join(ROOT, 'configs', 'yolox_nano_pss_1xb4-40e_deepforest.py'))
    assert [(s.type, s.begin, s.end) for s in cfg.param_scheduler] == [
        ('LinearLR', 0, 1), ('CosineAnnealingLR', 1, 30),
        ('ConstantLR', 30, 40)]
    assert cfg.param_scheduler[0].start_factor == 0.1
    assert _types(cfg.custom_hooks)[:2] == ['FreezeExceptHook',
                                            'YOLOXModeSwitchHook']
    assert cfg.custom_hooks[1].num_last_epochs == 10
    assert cfg.model.bbox_head.type == 'YOLOXPSSHead'


def _parse(argv: list) -> argparse.Namespace:
    """``tools/train.py``'s launch arguments (``--cfg-options`` ...)."""
    parser = argparse.ArgumentParser()
    parser.add_argument('config')
    add_launch_args(parser)
    return parser.parse_args(argv)


@pytest.mark.parametrize('name', ['yolox_s_8xb8-300e_coco.py',
                                  'yolox_nano_1xb4-200e_deepforest.py'])
def test_cfg_options(name):
    args = _parse([osp.join(ROOT, 'configs', name), '--cfg-options',
                   'train_cfg.max_epochs=3', 'randomness.seed=1',
                   'param_scheduler.2.end=3', 'model.bbox_head.num_classes=2'])
    cfg = read_config(args.config, args.cfg_options)
    assert cfg.train_cfg.max_epochs == 3
    assert cfg.randomness.seed == 1
    assert cfg.param_scheduler[2].end == 3
    assert cfg.model.bbox_head.num_classes == 2
    assert read_config(args.config).train_cfg.max_epochs in (300, 200)


@pytest.mark.parametrize('name,last', [('yolox_s_8xb8-300e_coco.py', 15),
                                       ('yolox_nano_1xb4-200e_deepforest.py',
                                        15)])
def test_runner_builds(name, last, tmp_path):
    """What ``tools/train.py CONFIG`` builds before it reads data: the
    Runner with the model and the hooks."""
    cfg = read_config(osp.join(ROOT, 'configs', name))
    cfg.work_dir = str(tmp_path)
    cfg.launcher = 'none'
    cfg.visualizer.name = f'visualizer_{name}'  # one instance per runner
    runner = Runner.from_cfg(cfg)
    assert type(runner.model).__name__ == 'YOLOX'
    switch = [h for h in runner.hooks
              if type(h).__name__ == 'YOLOXModeSwitchHook']
    assert [h.num_last_epochs for h in switch] == [last]


def test_another_project_changes_a_knob_through_the_scope(tmp_path):
    """configs/README.md's example: a child of ``yolox_mm::`` tree config
    re-derives the schedule for 100 epochs (last 15, warm-up 3 kept)."""
    child = tmp_path / 'my_yolox.py'
    child.write_text(
        "_base_ = 'yolox_mm::yolox_nano_1xb4-200e_deepforest.py'\n"
        'from yolox_mm.utils.config_deltas import set_fields, '
        'yolox_lr_schedule  # noqa: E402\n\n'
        'max_epochs = 100\n'
        'train_cfg = dict(max_epochs=max_epochs)\n'
        'param_scheduler = yolox_lr_schedule(max_epochs, '
        '_base_.num_last_epochs,\n'
        '                                    _base_.warmup_epochs, '
        '_base_.base_lr)\n')
    cfg = read_config(str(child))
    assert knob_disagreements(cfg) == []
    assert [(s.begin, s.end) for s in cfg.param_scheduler] == [
        (0, 3), (3, 85), (85, 100)]
    assert cfg.model.get('_scope_') == 'yolox_mm'


def test_snapshot_comparison_names_the_changed_keys():
    """tests.resolved_configs: how a refactoring of the configs is checked
    (the resolved dicts before and after)."""
    from tests.resolved_configs import changed_keys
    assert changed_keys({'a': [1, {'b': (2, 3)}], 'c': 1},
                        {'a': [1, {'b': (2, 4)}], 'd': 1}) == [
        'a[1].b[1]: 3 -> 4', "c: 1 -> '<absent>'", "d: '<absent>' -> 1"]
    assert changed_keys({'a': (1, 2)}, {'a': [1, 2]}) == [
        'a: (1, 2) -> [1, 2]']  # a tuple is not a list
