"""yolox_mm.analysis.benchmark.fused_pipeline: the counting and the
statistics it reports (the timings themselves are not tested)."""
import numpy as np
import pytest

from yolox_mm.analysis.benchmark.fused_pipeline import (_box_stats,
                                                        decodes_per_sample)
from yolox_mm.datasets import YOLOXMixImageDataset
from yolox_mm.datasets.transforms import fuse_pipeline
from ..test_datasets.test_transforms.test_fused_mosaic import (_random_set,
                                                               _steps)


def test_box_stats_by_hand():
    stats = _box_stats([np.array([[0., 0., 2., 4.]]),
                        np.array([[0., 0., 4., 2.], [1., 1., 2., 2.]])])
    # w = 2, 4, 1; h = 4, 2, 1; area = 8, 8, 1
    assert stats['count mean'] == 1.5
    assert stats['w mean'] == pytest.approx(7 / 3)
    assert stats['h q50'] == 2.0
    assert stats['area mean'] == pytest.approx(17 / 3)
    assert stats['area q90'] == pytest.approx(8.0)


def test_decodes_per_sample_counts_the_loads():
    dataset = _random_set(5, [(64, 48)], seed=0)
    steps = _steps((64, 48), affine=dict(scaling_ratio_range=(1.2, 1.5)))
    ours = YOLOXMixImageDataset(dataset, steps)
    # results + 3 mosaic images + the MixUp partner
    assert decodes_per_sample(ours, 6, seed=0) == 5.0
    assert ours.dataset is dataset  # the counting proxy is removed again
    every = fuse_pipeline(steps)
    every[0]['decode_visible_only'] = False
    assert decodes_per_sample(YOLOXMixImageDataset(dataset, every), 6,
                              seed=0) == 5.0
    visible = YOLOXMixImageDataset(dataset, fuse_pipeline(steps))
    assert decodes_per_sample(visible, 6, seed=0) < 5.0


def test_both_benchmarks_collate_each_side_as_its_own_loader():
    """Ours: the config's collate; mmdet: its config's; Megvii: torch's
    ``default_collate``, as its own DataLoader (both benchmarks use this
    one mapping)."""
    from mmengine.dataset import pseudo_collate
    from torch.utils.data import default_collate

    from yolox_mm.analysis.benchmark.data import config_collates
    from yolox_mm.datasets.shared_collate import shared_pseudo_collate
    collates = config_collates(['three_step', 'fused', 'mmdet', 'megvii'])
    assert collates == dict(three_step=shared_pseudo_collate,
                            fused=shared_pseudo_collate,
                            mmdet=pseudo_collate, megvii=default_collate)
