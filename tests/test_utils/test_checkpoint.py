"""Weights-only checkpoint loading (yolox_mm.utils.checkpoint).

* :func:`install_safe_checkpoint_loading` (installed for the whole suite by
  ``tests/conftest.py``, as our launchers do) is idempotent and reachable
  through ``register_all_modules(safe_checkpoints=True)``; ``import
  yolox_mm`` alone installs nothing
  (``tests/test_package/test_import_is_quiet.py``).
* A checkpoint our Runner saves (message hub with ``HistoryBuffer``, numpy
  arrays, optimizer, schedulers, EMA, DeterministicResumeHook's state)
  loads with ``weights_only=True`` and resumes training, with no global
  switch (``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD``, ``weights_only=False``).
* A checkpoint whose pickle would run code is refused with a clear
  ``pickle.UnpicklingError`` and the code does not run.
* A checkpoint with another ``num_classes``: what ``load_from`` reports
  (to the log, with a hint), and :func:`drop_head` /
  ``tools/model_converters/drop_head.py``.
"""
import builtins
import logging
import os
import os.path as osp
import pickle
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.model import BaseModel
from mmengine.registry import DefaultScope
from mmengine.runner import Runner
import mmengine.runner.checkpoint as mmengine_checkpoint
from mmengine.runner.checkpoint import (CheckpointLoader, _load_checkpoint,
                                        load_checkpoint, load_from_local)
from torch import nn

import yolox_mm  # noqa: F401  (safe loading: installed by tests/conftest.py)
from yolox_mm.registry import MODELS
from yolox_mm.utils import install_safe_checkpoint_loading
from yolox_mm.utils import register_all_modules
from yolox_mm.utils.checkpoint import (CLASS_PREDICTION_PREFIXES, drop_head,
                                       load_local_checkpoint, load_state_dict,
                                       safe_checkpoint_loading_installed)

ROOT = osp.join(osp.dirname(__file__), '..', '..')


# --- installing it -----------------------------------------------------------


@pytest.fixture
def mmengine_loading(monkeypatch):
    """mmengine's own checkpoint loading for one test (undone after it)."""
    monkeypatch.setattr(CheckpointLoader, '_schemes',
                        dict(CheckpointLoader._schemes, **{
                            '': load_from_local}))
    monkeypatch.setattr(mmengine_checkpoint, 'load_state_dict',
                        load_state_dict.__wrapped__)
    assert not safe_checkpoint_loading_installed()


def test_install_is_idempotent_and_sets_both_hooks(mmengine_loading):
    install_safe_checkpoint_loading()
    schemes = dict(CheckpointLoader._schemes)
    allowed = torch.serialization.get_safe_globals()
    install_safe_checkpoint_loading()
    assert CheckpointLoader._schemes == schemes
    assert CheckpointLoader._schemes[''] is load_local_checkpoint
    assert mmengine_checkpoint.load_state_dict is load_state_dict
    assert len(torch.serialization.get_safe_globals()) == len(allowed)
    assert safe_checkpoint_loading_installed()


@pytest.mark.parametrize('flag', [False, True])
def test_register_all_modules_installs_only_when_asked(
        mmengine_loading, flag):
    register_all_modules(init_default_scope=False, safe_checkpoints=flag)
    assert safe_checkpoint_loading_installed() is flag
    assert (CheckpointLoader._schemes[''] is load_from_local) is not flag


# --- a checkpoint saved by our Runner -------------------------------------


class _ToyModel(BaseModel):

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.bn = nn.BatchNorm2d(4)
        self.fc = nn.Linear(4, 1)

    def forward(self, inputs, target, mode='tensor'):
        x = torch.stack(inputs)
        y = self.fc(self.bn(self.conv(x)).mean((2, 3)))[:, 0]
        if mode == 'loss':
            return dict(loss=((y - torch.stack(target))**2).mean())
        return y


class _ToyDataset(torch.utils.data.Dataset):

    def __len__(self):
        return 8

    def __getitem__(self, idx):
        g = torch.Generator().manual_seed(idx)
        return dict(
            inputs=torch.randn(3, 8, 8, generator=g),
            target=torch.tensor(float(idx % 2)))


def _toy_runner(work_dir, max_epochs, name, resume_from=None):
    return Runner(
        model=_ToyModel(),
        work_dir=str(work_dir),
        experiment_name=name,
        default_scope='yolox_mm',
        train_dataloader=dict(
            dataset=_ToyDataset(),
            sampler=dict(type='DefaultSampler', shuffle=True),
            batch_size=4,
            num_workers=0),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01,
                                          momentum=0.9)),
        param_scheduler=dict(
            type='MultiStepLR', milestones=[1], by_epoch=True, end=10),
        train_cfg=dict(by_epoch=True, max_epochs=max_epochs),
        custom_hooks=[
            dict(type='EMAHook', ema_type='ExpMomentumEMA', momentum=0.01),
            dict(type='DeterministicResumeHook')
        ],
        default_hooks=dict(checkpoint=dict(type='CheckpointHook',
                                           interval=1)),
        randomness=dict(seed=0),
        resume=resume_from is not None,
        load_from=resume_from,
        log_level='WARNING')


def test_runner_checkpoint_loads_weights_only_and_resumes(
        tmp_path, monkeypatch):
    monkeypatch.delenv('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', raising=False)
    _toy_runner(tmp_path / 'a', 1, 'ckpt_a').train()
    path = str(tmp_path / 'a' / 'epoch_1.pth')

    # the file needs the allow-list: without it torch refuses it
    allowed = torch.serialization.get_safe_globals()
    torch.serialization.clear_safe_globals()
    try:
        unsafe = torch.serialization.get_unsafe_globals_in_checkpoint(path)
        with pytest.raises(pickle.UnpicklingError):
            torch.load(path, weights_only=True)
    finally:
        torch.serialization.add_safe_globals(allowed)
    assert 'mmengine.logging.history_buffer.HistoryBuffer' in unsafe
    checkpoint = torch.load(path, weights_only=True)
    assert {'state_dict', 'optimizer', 'param_schedulers', 'message_hub',
            'ema_state_dict', 'yolox_mm_resume_state'} <= checkpoint.keys()

    calls = []
    torch_load = torch.load

    def spy(*args, **kwargs):
        calls.append(kwargs.get('weights_only'))
        return torch_load(*args, **kwargs)

    monkeypatch.setattr(torch, 'load', spy)
    runner = _toy_runner(tmp_path / 'b', 2, 'ckpt_b', resume_from=path)
    runner.train()
    assert calls == [True]  # resume went through our weights-only loader
    assert runner.epoch == 2
    # the resumed run continued the schedule: MultiStepLR dropped the LR
    assert runner.optim_wrapper.get_lr()['lr'] == [pytest.approx(0.001)]


# --- a checkpoint whose pickle would run code -------------------------------


class _OsSystem:

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f'touch {self.marker}', )


class _Exec:

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return builtins.exec, (f'open({str(self.marker)!r}, "w").close()', )


@pytest.mark.parametrize('payload', [_OsSystem, _Exec])
def test_malicious_checkpoint_is_refused_without_running_code(
        tmp_path, payload):
    marker = tmp_path / 'code_ran'
    path = tmp_path / 'evil.pth'
    torch.save(
        dict(state_dict=dict(w=torch.zeros(1)), meta=payload(marker)), path)

    for load in (lambda: _load_checkpoint(str(path)),
                 lambda: load_checkpoint(nn.Linear(1, 1), str(path))):
        with pytest.raises(pickle.UnpicklingError) as info:
            load()
        message = str(info.value)
        assert f'Refused to load {path}' in message
        assert 'could run code' in message
        assert not marker.exists()


def test_malicious_payload_is_real(tmp_path):
    """Control: loaded without the weights-only unpickler, the payload of
    the test above does run."""
    marker = tmp_path / 'code_ran'
    path = tmp_path / 'evil.pth'
    torch.save(dict(meta=_Exec(marker)), path)
    torch.load(path, weights_only=False)
    assert marker.exists()


# --- a checkpoint with another num_classes ---------------------------------

_CLS_KEYS = [
    f'bbox_head.multi_level_conv_cls.{level}.{leaf}' for level in range(3)
    for leaf in ('weight', 'bias')
]


def _build(config):
    cfg = Config.fromfile(osp.join(ROOT, 'configs', config))
    with DefaultScope.overwrite_default_scope('yolox_mm'):
        return MODELS.build(cfg.model)


@pytest.fixture(scope='module')
def coco_checkpoint(tmp_path_factory):
    """An 80-class YOLOX-Nano checkpoint and its state_dict."""
    torch.manual_seed(0)
    state_dict = _build('yolox_nano_8xb8-300e_coco.py').state_dict()
    path = tmp_path_factory.mktemp('coco') / 'nano_coco.pth'
    torch.save(dict(meta=dict(epoch=300), state_dict=state_dict), path)
    return str(path), state_dict


@pytest.fixture
def tree_model():
    torch.manual_seed(1)
    return _build('yolox_nano_1xb4-200e_deepforest.py')  # 1 class


def _assert_loaded_except_cls(model, coco_state, init_state):
    for key, value in model.state_dict().items():
        expected = init_state[key] if key in _CLS_KEYS else coco_state[key]
        assert torch.equal(value, expected), key


class _ListHandler(logging.Handler):

    def __init__(self):
        super().__init__(level=logging.WARNING)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


@pytest.fixture
def logged():
    """Warnings of the current MMLogger (a Runner's logger during
    training; its handlers write the log file)."""
    logger = MMLogger.get_current_instance()
    handler = _ListHandler()
    logger.addHandler(handler)
    yield handler.messages
    logger.removeHandler(handler)


def test_load_from_other_num_classes_names_keys_and_shapes(
        coco_checkpoint, tree_model, logged, capsys):
    """What ``load_from`` (Runner.load_checkpoint: the same two mmengine
    calls as ``load_checkpoint``; EMAHook loads the EMA model the same way)
    reports and does."""
    path, coco_state = coco_checkpoint
    init_state = {k: v.clone() for k, v in tree_model.state_dict().items()}
    load_checkpoint(tree_model, path)
    assert 'do not match' not in capsys.readouterr().out  # not print()ed
    report, hint = logged
    assert report.startswith(
        'The model and loaded state dict do not match exactly')
    for level in range(3):
        key = f'bbox_head.multi_level_conv_cls.{level}'
        assert (f'size mismatch for {key}.weight: copying a param with '
                'shape torch.Size([80, 64, 1, 1]) from checkpoint, the '
                'shape in current model is torch.Size([1, 64, 1, 1]).'
                ) in report
        assert (f'size mismatch for {key}.bias: copying a param with shape '
                'torch.Size([80]) from checkpoint, the shape in current '
                'model is torch.Size([1]).') in report
    assert report.count('size mismatch') == 6
    assert hint.startswith('The checkpoint predicts 80 classes and the '
                           'model 1 (bbox_head.num_classes)')
    assert 'keep their initial values' in hint
    assert 'tools/model_converters/drop_head.py' in hint
    _assert_loaded_except_cls(tree_model, coco_state, init_state)


def test_drop_head_then_load_reports_missing_class_layers(
        coco_checkpoint, tree_model, logged, tmp_path):
    path, coco_state = coco_checkpoint
    dropped = drop_head(load_local_checkpoint(path))
    assert dropped['meta'] == dict(epoch=300, dropped_keys=sorted(_CLS_KEYS))
    assert set(dropped['state_dict']) == set(coco_state) - set(_CLS_KEYS)
    out_path = tmp_path / 'nano_coco_nocls.pth'
    torch.save(dropped, out_path)

    init_state = {k: v.clone() for k, v in tree_model.state_dict().items()}
    load_checkpoint(tree_model, str(out_path))
    assert len(logged) == 1  # no hint
    assert 'size mismatch' not in logged[0]
    assert ('missing keys in source state_dict: '
            f'{", ".join(_CLS_KEYS)}') in logged[0]
    _assert_loaded_except_cls(tree_model, coco_state, init_state)


def test_matching_checkpoint_loads_silently(coco_checkpoint, logged):
    path, coco_state = coco_checkpoint
    model = _build('yolox_nano_8xb8-300e_coco.py')
    load_checkpoint(model, path, strict=True)
    assert logged == []
    for key, value in model.state_dict().items():
        assert torch.equal(value, coco_state[key]), key


def test_drop_head_options_and_errors(coco_checkpoint):
    path, coco_state = coco_checkpoint
    assert CLASS_PREDICTION_PREFIXES == ('bbox_head.multi_level_conv_cls.', )
    # a bare state_dict; the whole head
    whole = drop_head(coco_state, prefixes=('bbox_head.', ))
    assert whole['meta']['dropped_keys'] == sorted(
        k for k in coco_state if k.startswith('bbox_head.'))
    assert all(k.startswith(('backbone.', 'neck.'))
               for k in whole['state_dict'])
    with pytest.raises(KeyError, match='No key of the checkpoint starts '
                       r"with \('head\.',\)"):
        drop_head(coco_state, prefixes=('head.', ))


def test_drop_head_script(coco_checkpoint, tmp_path):
    """The CLI itself (so in a subprocess): message, saved keys, exit with
    the error text on a prefix that matches nothing."""
    script = osp.join(ROOT, 'tools', 'model_converters', 'drop_head.py')
    path, coco_state = coco_checkpoint
    dst = tmp_path / 'out.pth'
    proc = subprocess.run([sys.executable, script, path, str(dst)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert 'dropped 6 tensors' in proc.stdout
    saved = torch.load(dst, weights_only=True)
    assert set(saved['state_dict']) == set(coco_state) - set(_CLS_KEYS)
    proc = subprocess.run([sys.executable, script, path, str(dst),
                           '--prefix', 'head.'], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 1
    assert 'No key of the checkpoint' in proc.stderr
