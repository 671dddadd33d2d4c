"""shared_pseudo_collate against mmengine's pseudo_collate: the same batch,
its tensors moved into one shared buffer per dtype inside a worker."""
import numpy as np
import pytest
import torch
from mmdet.structures.bbox import HorizontalBoxes
from mmengine.dataset import pseudo_collate
from mmengine.registry import FUNCTIONS
from torch.utils.data import DataLoader

from yolox_mm.datasets import shared_pseudo_collate
from yolox_mm.datasets.transforms import PlanarPackDetInputs


class _PackedSamples:
    """Packed detection samples of varying sizes and box counts."""

    def __len__(self):
        return 6

    def __getitem__(self, idx):
        rng = np.random.default_rng(idx)
        h, w, n = 20 + idx, 30 - idx, idx % 3 + 1
        xy = rng.uniform(0, 10, (n, 2))
        boxes = np.concatenate([xy, xy + 5], 1).astype(np.float32)
        return PlanarPackDetInputs()(dict(
            img=rng.integers(0, 256, (h, w, 3), dtype=np.uint8),
            img_id=idx, img_path=f'{idx}.png', ori_shape=(h, w),
            img_shape=(h, w), scale_factor=(1., 1.), flip=False,
            flip_direction=None, gt_bboxes=HorizontalBoxes(boxes),
            gt_bboxes_labels=rng.integers(0, 3, n),
            gt_ignore_flags=np.arange(n) == 1))


def _assert_same_batch(a, b):
    assert len(a['inputs']) == len(b['inputs'])
    for x, y in zip(a['inputs'], b['inputs']):
        assert x.dtype == y.dtype and torch.equal(x, y) and x.is_contiguous()
    for x, y in zip(a['data_samples'], b['data_samples']):
        assert x.metainfo == y.metainfo
        for field in ('gt_instances', 'ignored_instances'):
            u, v = x.get(field), y.get(field)
            assert isinstance(u.bboxes, HorizontalBoxes)
            assert torch.equal(u.bboxes.tensor, v.bboxes.tensor)
            assert u.labels.dtype == v.labels.dtype
            assert torch.equal(u.labels, v.labels)


def test_main_process_is_pseudo_collate():
    samples = [_PackedSamples()[i] for i in range(3)]
    batch = shared_pseudo_collate(samples)
    _assert_same_batch(batch, pseudo_collate(samples))
    assert batch['inputs'][0] is samples[0]['inputs']  # nothing moved


@pytest.mark.parametrize('collate', ['function', 'registry'])
def test_worker_batch_same_values_one_storage_per_dtype(collate):
    # 'registry': as mmengine's Runner.build_dataloader looks it up
    fn = (shared_pseudo_collate if collate == 'function' else
          FUNCTIONS.get('yolox_mm.shared_pseudo_collate'))
    data = _PackedSamples()
    ref = pseudo_collate([data[i] for i in range(3)])
    batch = next(iter(DataLoader(data, batch_size=3, num_workers=1,
                                 collate_fn=fn)))
    _assert_same_batch(batch, ref)
    tensors = list(batch['inputs'])
    for sample in batch['data_samples']:
        for field in ('gt_instances', 'ignored_instances'):
            tensors += [sample.get(field).bboxes.tensor,
                        sample.get(field).labels]
    storages = {}
    for t in tensors:
        storages.setdefault(t.dtype, set()).add(
            t.untyped_storage().data_ptr())
    assert {d: len(s) for d, s in storages.items()} == {
        torch.uint8: 1, torch.float32: 1, torch.int64: 1}
    # the views are independent: writing one leaves its neighbours
    first, second = batch['inputs'][0], batch['inputs'][1].clone()
    first.fill_(7)
    assert torch.equal(batch['inputs'][1], second)
