"""``yolox_mm.analysis.drawing``: boxes clipped to the image (NaN boxes
dropped), detections drawn over the image at its size."""
import numpy as np
import torch
from mmengine.structures import InstanceData

from yolox_mm.analysis.drawing import clip_to_image, draw_detections


def test_clip_to_image():
    inf, nan = float('inf'), float('nan')
    instances = InstanceData(
        bboxes=torch.tensor([[-5., 2., 300., inf], [nan, 0., 1., 1.],
                             [1., 1., 2., 2.]]),
        scores=torch.tensor([0.9, 0.8, 0.7]))
    clipped = clip_to_image(instances, height=100, width=200)
    assert clipped.bboxes.tolist() == [[0., 2., 200., 100.],
                                       [1., 1., 2., 2.]]
    assert torch.equal(clipped.scores, instances.scores[[0, 2]])
    assert instances.bboxes[0, 2] == 300  # the input is left as it was


def test_draw_detections_keeps_image_size():
    image = np.full((60, 80, 3), 114, np.uint8)
    preds = InstanceData(bboxes=torch.tensor([[10., 10., 40., 30.],
                                              [-50., 0., 500., 900.]]),
                         scores=torch.tensor([0.9, 0.2]),
                         labels=torch.tensor([0, 0]))
    drawn = draw_detections(image, preds, ('tree', ), [(0, 200, 0)], 0.3)
    assert drawn.shape == image.shape
    changed = (drawn != image).any(axis=2)
    assert changed[10:31, 10].any()  # the left edge of the kept box
    # the box below the threshold (the whole image) is not drawn
    assert not changed[50:, 50:].any()
