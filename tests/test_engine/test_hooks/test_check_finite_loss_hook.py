"""CheckFiniteLossHook: a non-finite loss stops training with a message
naming the iteration and the batch's images, before EMA and checkpoints
take the broken weights; the last checkpoint stays loadable."""
import math
import uuid
from types import SimpleNamespace

import pytest
import torch
from mmdet.structures import DetDataSample
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.logging import MessageHub
from mmengine.runner import Runner

from tests.tiny_training import write_tiny_config
from yolox_mm.engine.hooks import CheckFiniteLossHook
from yolox_mm.engine.hooks import check_finite_loss_hook as hook_module
from yolox_mm.registry import HOOKS
from yolox_mm.utils.checkpoint import load_local_checkpoint


def fake_runner(iteration=41, epoch=2, last_ckpt=None):
    hub = MessageHub.get_instance(f'finite_loss_{uuid.uuid4().hex}')
    if last_ckpt:
        hub.update_info('last_ckpt', last_ckpt)
    return SimpleNamespace(iter=iteration, epoch=epoch, message_hub=hub)


def batch(*paths):
    samples = []
    for i, path in enumerate(paths):
        sample = DetDataSample()
        sample.set_metainfo(dict(img_id=10 + i, img_path=path))
        samples.append(sample)
    return dict(inputs=[], data_samples=samples)


def losses(**values):
    """mmengine's ``log_vars``: the total ``loss`` first, then the terms."""
    terms = {k: torch.tensor(v) for k, v in values.items()}
    return dict(loss=sum(terms.values()), **terms)


def test_registered_and_in_the_default_hooks():
    assert HOOKS.get('CheckFiniteLossHook') is CheckFiniteLossHook
    cfg = Config.fromfile('configs/yolox_nano_1xb4-200e_deepforest.py')
    assert cfg.default_hooks.check_finite_loss.type == 'CheckFiniteLossHook'
    # runs before EMAHook (49) and CheckpointHook in after_train_iter
    assert CheckFiniteLossHook.priority == 'VERY_HIGH'


def test_finite_losses_pass():
    CheckFiniteLossHook().after_train_iter(
        fake_runner(), 0, batch('a.png'),
        losses(loss_cls=1.0, loss_bbox=2.0))
    # non-loss entries are not checked (mmengine sums only '*loss*')
    CheckFiniteLossHook().after_train_iter(
        fake_runner(), 0, batch('a.png'),
        dict(loss=torch.tensor(1.0), acc=torch.tensor(math.nan)))


@pytest.mark.parametrize('value', [math.nan, math.inf, -math.inf])
def test_non_finite_loss_names_iteration_terms_and_images(value):
    runner = fake_runner(iteration=41, epoch=2,
                         last_ckpt='work_dirs/x/epoch_2.pth')
    with pytest.raises(FloatingPointError) as info:
        CheckFiniteLossHook().after_train_iter(
            runner, 6, batch('data/a.png', 'data/b.png'),
            losses(loss_cls=0.5, loss_bbox=value))
    message = str(info.value)
    assert message.startswith(
        'Non-finite loss at iteration 42 (epoch 3, batch 7 of the epoch): '
        f'loss={value}, loss_bbox={value}.')
    assert 'loss_cls' not in message
    assert "['10: data/a.png', '11: data/b.png']" in message
    assert 'Last checkpoint, to resume from: work_dirs/x/epoch_2.pth' \
        in message


def test_without_checkpoint_or_batch():
    with pytest.raises(FloatingPointError) as info:
        CheckFiniteLossHook().after_train_iter(fake_runner(), 0, None,
                                               losses(loss_obj=math.nan))
    assert 'on this rank (img_id: img_path): unknown' in str(info.value)
    assert 'No checkpoint was saved in this run' in str(info.value)


def _fake_distributed(monkeypatch, rank, world_size, others_bad):
    """Two ranks without processes: ``all_reduce`` adds the flags the
    other ranks would contribute."""

    def all_reduce(flags):
        assert flags.shape == (world_size, )  # one flag per rank, every rank
        for other in others_bad:
            flags[other] += 1

    monkeypatch.setattr(hook_module, 'get_world_size', lambda: world_size)
    monkeypatch.setattr(hook_module, 'get_rank', lambda: rank)
    monkeypatch.setattr(hook_module, 'all_reduce', all_reduce)


def test_distributed_all_ranks_stop_at_the_same_iteration(monkeypatch):
    _fake_distributed(monkeypatch, rank=0, world_size=2, others_bad=[1])
    with pytest.raises(FloatingPointError) as info:
        CheckFiniteLossHook().after_train_iter(
            fake_runner(), 0, batch('rank0.png'), losses(loss_cls=1.0))
    assert str(info.value).startswith(
        'Non-finite loss at iteration 42 (epoch 3, batch 1 of the epoch) on '
        'rank(s) [1]; this rank (0) had finite losses.')
    assert '10: rank0.png' in str(info.value)


def test_distributed_bad_rank_names_itself(monkeypatch):
    _fake_distributed(monkeypatch, rank=1, world_size=2, others_bad=[])
    with pytest.raises(FloatingPointError,
                       match=r'the epoch\) on rank 1: loss=nan, '
                       r'loss_cls=nan\.'):
        CheckFiniteLossHook().after_train_iter(
            fake_runner(), 0, batch('rank1.png'), losses(loss_cls=math.nan))
    _fake_distributed(monkeypatch, rank=1, world_size=2, others_bad=[])
    CheckFiniteLossHook().after_train_iter(
        fake_runner(), 0, batch('rank1.png'), losses(loss_cls=1.0))


class NaNLossAt(Hook):
    """Makes the loss of iteration ``iteration`` (0-based) NaN, without
    touching the weights, and records that batch's image paths."""

    priority = 'VERY_HIGH'

    def __init__(self, iteration):
        self.iteration = iteration
        self.paths = None

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        model = runner.model
        if runner.iter != self.iteration:
            model.__dict__.pop('parse_losses', None)
            return
        self.paths = [s.img_path for s in data_batch['data_samples']]
        parse = type(model).parse_losses.__get__(model)

        def nan_bbox_loss(losses):
            losses = dict(losses)
            losses['loss_bbox'] = losses['loss_bbox'] * math.nan
            return parse(losses)

        model.parse_losses = nan_bbox_loss


@pytest.mark.slow
def test_training_stops_and_last_checkpoint_stays_loadable(tmp_path):
    """Tiny tree training, 2 iterations an epoch: epoch 1 saves
    epoch_1.pth, the 2nd iteration of epoch 2 (iteration 4) has a NaN
    loss. The run stops there naming it, saves nothing more, and
    epoch_1.pth loads (weights-only) into a fresh model with finite
    weights."""
    config = write_tiny_config(tmp_path / 'tiny.py', max_epochs=3,
                               num_last_epochs=1, num_images=4)
    cfg = Config.fromfile(config)
    cfg.work_dir = str(tmp_path / 'work')
    cfg.experiment_name = cfg.visualizer.name = f'nan_{uuid.uuid4().hex}'
    cfg.log_level = 'WARNING'
    cfg.custom_hooks = [h for h in cfg.custom_hooks
                        if not h['type'].startswith('Probe')]
    threads = torch.get_num_threads()
    deterministic = torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(1)
    try:
        runner = Runner.from_cfg(cfg)
        injector = NaNLossAt(iteration=3)
        runner.register_hook(injector)
        with pytest.raises(FloatingPointError) as info:
            runner.train()
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(deterministic)
    message = str(info.value)
    work = tmp_path / 'work'
    assert message.startswith('Non-finite loss at iteration 4 (epoch 2, '
                              'batch 2 of the epoch): loss=nan, '
                              'loss_bbox=nan.')
    assert len(injector.paths) == 2
    for path in injector.paths:
        assert path in message
    assert f"to resume from: {work / 'epoch_1.pth'}" in message
    assert sorted(p.name for p in work.glob('*.pth')) == ['epoch_1.pth']
    assert (work / 'last_checkpoint').read_text().strip() == \
        str(work / 'epoch_1.pth')

    checkpoint = load_local_checkpoint(str(work / 'epoch_1.pth'))
    assert checkpoint['meta']['epoch'] == 1
    state = checkpoint['state_dict']
    assert all(torch.isfinite(v).all() for v in state.values()
               if v.is_floating_point())
    model = runner.model  # its weights in memory are the broken ones
    assert not all(torch.isfinite(p).all() for p in model.parameters())
    model.load_state_dict(state, strict=True)
    assert all(torch.isfinite(p).all() for p in model.parameters())
