"""``yolox_mm.analysis.samples``: an annotated image as the network sees it
at test time. The tiny images (160 x 120) are letterboxed to the 128 canvas
with scale 0.8 (128 / 160), so every GT box is its COCO box times 0.8."""
import numpy as np
import pytest
import torch
from mmdet.apis import init_detector

from yolox_mm.analysis.samples import (annotated_test_pipeline,
                                       build_dataset, find_index,
                                       innermost_dataset_cfg, load_sample)
from .tiny_data import BOXES


@pytest.fixture(scope='module')
def model(tiny):
    return init_detector(str(tiny.config), str(tiny.checkpoint),
                         device='cpu')


@pytest.mark.parametrize('split', ['train', 'val'])
def test_gt_boxes_in_input_pixels(model, split):
    dataset = build_dataset(model.cfg, split)
    assert len(dataset) == len(BOXES)
    sample = load_sample(model, dataset, find_index(dataset, 'img2.png'))
    expected = torch.tensor([[x, y, x + w, y + h] for _, (x, y, w, h)
                             in BOXES[2]]) * 0.8
    torch.testing.assert_close(sample.gt_bboxes, expected)
    assert sample.gt_labels.tolist() == [label for label, _ in BOXES[2]]
    assert sample.inputs.shape == (1, 3, 128, 128)
    assert sample.image.shape == (128, 128, 3)
    assert (sample.image[96:] == 114).all()  # the letterbox padding


def test_pipeline_and_errors(model):
    steps = [t['type'] for t in annotated_test_pipeline(model.cfg)]
    assert steps == ['LoadImageFromFile', 'LoadAnnotations', 'Resize', 'Pad',
                     'PackDetInputs']
    assert innermost_dataset_cfg(model.cfg, 'train')['ann_file'] == \
        'train.json'
    with pytest.raises(ValueError, match='split must be one of'):
        innermost_dataset_cfg(model.cfg, 'dev')
    assert np.isscalar(find_index(build_dataset(model.cfg), None))
