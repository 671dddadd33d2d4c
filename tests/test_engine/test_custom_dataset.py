"""A new dataset end to end (docs/custom_dataset.md): VOC XML folders ->
``to_coco`` -> a copy of ``configs/custom/yolox_s_1xb8-100e_custom.py``
edited as the doc says -> a few iterations of training and an evaluation
through mmengine's Runner; and fine-tuning from an 80-class checkpoint with
its class layers dropped (``load_from``).

The data (``tests/custom_data.py``): 5 train images (4 with ``red``/``blue``
boxes, one without), 3 val images with a class only in val (``green``), a
difficult box and an image without boxes. 128 px canvas, batch 2, 3 epochs (9
iterations; the last 3 without Mosaic), no workers.
"""
import re
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.runner import Runner

from tests.custom_data import write_voc_dataset
from yolox_mm.datasets.converters import convert_splits
from yolox_mm.utils.checkpoint import CLASS_PREDICTION_PREFIXES, drop_head

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / 'configs' / 'custom' / 'yolox_s_1xb8-100e_custom.py'


def edit_template(path: Path, **values) -> Path:
    """A copy of the template with lines ``name = ...`` of its first block
    replaced by ``values`` (what the doc tells a user to do)."""
    text = TEMPLATE.read_text()
    text = text.replace("'../yolox_s_8xb8-300e_coco.py'",
                        repr(str(REPO / 'configs' /
                                 'yolox_s_8xb8-300e_coco.py')))
    for name, value in values.items():
        text, n = re.subn(rf'^{name} = .*$', f'{name} = {value}', text,
                          count=1, flags=re.M)
        assert n == 1, f'{name} is not a line of the template'
    path.write_text(text)
    return path


def small_run(cfg: Config, work_dir: Path) -> Config:
    """One thread's worth: no workers, log every iteration."""
    cfg.work_dir = str(work_dir)
    for loader in (cfg.train_dataloader, cfg.val_dataloader):
        loader.update(num_workers=0, persistent_workers=False)
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=1)
    cfg.default_hooks.visualization = dict(type='DetVisualizationHook')
    cfg.randomness = dict(seed=0)
    # an untrained model scores below the usual 0.001 (priors 0.01 x 0.01)
    # and CocoMetric then returns nothing: keep every box
    cfg.model.test_cfg.score_thr = 0.0
    return cfg


def make_config(tmp_path: Path, data_root: Path, **extra) -> Config:
    path = edit_template(
        tmp_path / 'my_config.py', data_root=repr(str(data_root) + '/'),
        classes="('blue', 'green', 'red')", img_scale='(128, 128)',
        batch_size='2', max_epochs='3', num_last_epochs='1',
        warmup_epochs='1', val_interval='3', **extra)
    return small_run(Config.fromfile(str(path)), tmp_path / 'work')


@pytest.fixture(autouse=True)
def one_thread():
    """Train on one thread, and give later tests their thread count back
    (the parity tests compare NMS outputs that depend on it)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope='module')
def data_root(tmp_path_factory):
    root = write_voc_dataset(tmp_path_factory.mktemp('voc'))
    convert_splits('voc', {'train': str(root / 'train'),
                           'val': str(root / 'val')}, str(root))
    return root


def test_voc_to_trained_and_evaluated(tmp_path, data_root):
    cfg = make_config(tmp_path, data_root)
    runner = Runner.from_cfg(cfg)
    runner.train()
    metrics = runner.val_loop.run()

    head = runner.model.bbox_head
    assert head.num_classes == 3
    # the negative t4 is a training image
    assert len(runner.train_dataloader.dataset.dataset) == 5
    assert [c.out_channels for c in head.multi_level_conv_cls] == [3] * 3
    val = runner.val_dataloader.dataset
    assert val.metainfo['classes'] == ('blue', 'green', 'red')
    assert len(val) == 3  # the image without boxes is evaluated too
    # the difficult red box of v0 is an ignored instance
    v0 = val.get_data_info(0)
    assert [(i['bbox_label'], i['ignore_flag']) for i in v0['instances']
            ] == [(1, 0), (2, 1)]
    # per-class AP of every class, green (only in val) included; an
    # untrained model scores about 0, but within [0, 1]
    for name in ('blue', 'green', 'red'):
        assert 0 <= metrics[f'coco/{name}_precision'] <= 1
    assert 0 <= metrics['coco/bbox_mAP'] <= 1
    assert (tmp_path / 'work' / 'epoch_3.pth').is_file()


class _LoadedWeightsProbe(Hook):
    """Keeps the model's tensors as they are after ``load_from``."""

    def before_train(self, runner) -> None:
        self.state = {k: v.detach().clone()
                      for k, v in runner.model.state_dict().items()}


def test_fine_tune_from_80_classes(tmp_path, data_root):
    coco_cfg = Config.fromfile(str(REPO / 'configs' /
                                   'yolox_s_8xb8-300e_coco.py'))
    from yolox_mm.registry import MODELS
    torch.manual_seed(1)
    coco_model = MODELS.build(coco_cfg.model)
    coco_state = coco_model.state_dict()
    assert coco_state['bbox_head.multi_level_conv_cls.0.weight'].shape[0] \
        == 80
    nohead = drop_head(dict(meta={}, state_dict=coco_state))
    ckpt = tmp_path / 'yolox_s_coco_nohead.pth'
    torch.save(nohead, ckpt)
    assert nohead['meta']['dropped_keys'] == [
        f'{CLASS_PREDICTION_PREFIXES[0]}{i}.{p}' for i in range(3)
        for p in ('bias', 'weight')]

    cfg = make_config(tmp_path, data_root, load_from=repr(str(ckpt)))
    runner = Runner.from_cfg(cfg)
    probe = _LoadedWeightsProbe()
    runner.register_hook(probe, priority='LOWEST')
    runner.train()

    loaded = probe.state
    kept = [k for k in coco_state if not k.startswith(
        CLASS_PREDICTION_PREFIXES)]
    assert len(kept) == len(coco_state) - 6
    for key in kept:  # every other tensor is the checkpoint's
        torch.testing.assert_close(loaded[key], coco_state[key], rtol=0,
                                   atol=0, msg=key)
    assert loaded['bbox_head.multi_level_conv_cls.0.weight'].shape == (
        3, 128, 1, 1)
    log = next((tmp_path / 'work').glob('*/*.log')).read_text()
    assert 'missing keys in source state_dict: ' \
        'bbox_head.multi_level_conv_cls.0.weight' in log
