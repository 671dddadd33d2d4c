"""Synthetic inputs for tests and benchmarks: images, COCO-like GT boxes,
raw YOLOX head outputs with plausible predictions, a COCO-format set of
JPEGs on disk and collated training batches.

Letters: ``B`` images, ``P`` priors over all levels (8400 at 640 x 640 with
strides 8/16/32), ``G`` GT boxes per image, ``C`` classes. Boxes are
``xyxy`` in pixels of the network input unless stated otherwise.
"""
import json
import math
import os
import os.path as osp
from dataclasses import dataclass
from typing import List, Tuple

import cv2
import numpy as np
import torch
from mmdet.models.task_modules.prior_generators import MlvlPointGenerator
from mmengine.structures import InstanceData
from torch import Tensor, nn

#: Strides of the three YOLOX levels.
STRIDES = (8, 16, 32)


def bgr_images(batch: int, size: int, seed: int) -> Tensor:
    """``(batch, 3, size, size)`` float BGR images in [0, 255]: smooth
    random blobs plus noise (not only noise, so features vary in space)."""
    gen = torch.Generator().manual_seed(seed)
    low = torch.rand((batch, 3, size // 16, size // 16), generator=gen)
    img = nn.functional.interpolate(low, size=(size, size), mode='bilinear',
                                    align_corners=False)
    img = 0.8 * img + 0.2 * torch.rand(img.shape, generator=gen)
    return (img * 255).round()


def smooth_image(height: int, width: int, rng: np.random.RandomState
                 ) -> np.ndarray:
    """``[H, W, 3]`` uint8 BGR: upsampled random blobs plus noise (JPEGs
    of realistic size, and features that vary in space)."""
    low = rng.randint(0, 256, (max(2, height // 24), max(2, width // 24), 3))
    img = cv2.resize(low.astype(np.uint8), (width, height),
                     interpolation=cv2.INTER_CUBIC).astype(np.int16)
    img += rng.randint(-20, 21, img.shape).astype(np.int16)
    return np.clip(img, 0, 255).astype(np.uint8)


def random_gt_boxes(num: int, width: float, height: float,
                    gen: torch.Generator) -> Tensor:
    """``[num, 4]`` xyxy COCO-like boxes inside a ``width x height`` image:
    side log-uniform in [8, 400] px, aspect ratio log-uniform in [1/2, 2],
    uniform position."""
    side = torch.exp(math.log(8) + torch.rand(num, generator=gen) *
                     (math.log(400) - math.log(8)))
    log_ar = (torch.rand(num, generator=gen) * 2 - 1) * math.log(2)
    w = (side * torch.exp(log_ar / 2)).clamp(max=width - 1)
    h = (side * torch.exp(-log_ar / 2)).clamp(max=height - 1)
    x1 = torch.rand(num, generator=gen) * (width - w)
    y1 = torch.rand(num, generator=gen) * (height - h)
    return torch.stack([x1, y1, x1 + w, y1 + h], dim=1)


@dataclass
class AssignInputs:
    """A synthetic batch of raw YOLOX head outputs with GTs.

    Attributes:
        priors: ``[P, 4]`` ``(x, y, stride_w, stride_h)``, grid points
            without the 0.5 offset (as both heads' prior generators).
        cls_logits: ``[B, P, C]``.
        obj_logits: ``[B, P]``.
        reg_preds: ``[B, P, 4]`` raw ``(t_x, t_y, t_w, t_h)``.
        pred_bboxes: ``[B, P, 4]`` decoded xyxy.
        gt_instances: per image ``bboxes [G, 4]`` xyxy, ``labels [G]``.
        featmap_sizes: ``(H_l, W_l)`` per level.
    """
    priors: Tensor
    cls_logits: Tensor
    obj_logits: Tensor
    reg_preds: Tensor
    pred_bboxes: Tensor
    gt_instances: List[InstanceData]
    featmap_sizes: List[Tuple[int, int]]

    def head_outputs(self, requires_grad: bool = False) -> tuple:
        """``(cls_scores, bbox_preds, objectnesses)``: per level ``(B, K,
        H_l, W_l)`` maps, whose flattening gives back these tensors."""
        outs = []
        for flat in (self.cls_logits, self.reg_preds,
                     self.obj_logits[..., None]):
            maps, start = [], 0
            for h, w in self.featmap_sizes:
                level = flat[:, start:start + h * w]
                start += h * w
                level = level.reshape(flat.shape[0], h, w, flat.shape[2])
                level = level.permute(0, 3, 1, 2).contiguous()
                maps.append(level.requires_grad_(requires_grad))
            outs.append(maps)
        return tuple(outs)


def make_assign_inputs(num_imgs: int, img_size: int, num_gts: int,
                       num_classes: int, seed: int,
                       gt_fraction: float = 0.5) -> AssignInputs:
    """Realistic SimOTA inputs of ``num_imgs`` square images.

    Priors of the ``img_size`` grid; GTs COCO-like (see
    :func:`random_gt_boxes`), random labels; ``gt_fraction`` of the priors
    that lie inside a GT predict that GT with noise (centre +-10 %, size x
    exp(N(0, 0.15))) and get high class/objectness logits, the others
    predict a box of ~2.7 strides around themselves with random low
    scores. Class logits come from their own random stream, so inputs that
    differ only in ``num_classes`` share boxes, GTs and objectness.
    """
    from yolox_mm.models.task_modules.coders import (decode_bboxes,
                                                     prior_centers)
    gen = torch.Generator().manual_seed(seed)
    sizes = [(math.ceil(img_size / s), math.ceil(img_size / s))
             for s in STRIDES]
    priors = torch.cat(MlvlPointGenerator(STRIDES, offset=0).grid_priors(
        sizes, device="cpu", with_stride=True))
    num_priors = priors.shape[0]
    centres = prior_centers(priors)[:, :2]
    reg = torch.empty(num_imgs, num_priors, 4)
    reg[..., :2] = 0.5 + 0.5 * torch.randn(num_imgs, num_priors, 2,
                                           generator=gen)
    reg[..., 2:] = 1.0 + 0.8 * torch.randn(num_imgs, num_priors, 2,
                                           generator=gen)
    # class logits from their own stream: the boxes, GTs and objectness do
    # not depend on C, so the C=1000 case differs from C=80 only by C
    cls_gen = torch.Generator().manual_seed(seed + 7919)
    cls = -4.0 + 1.5 * torch.randn(num_imgs, num_priors, num_classes,
                                   generator=cls_gen)
    obj = -4.0 + 1.5 * torch.randn(num_imgs, num_priors, generator=gen)
    gt_instances = []
    for i in range(num_imgs):
        boxes = random_gt_boxes(num_gts, img_size, img_size, gen)
        labels = torch.randint(0, num_classes, (num_gts, ), generator=gen)
        gt_instances.append(InstanceData(bboxes=boxes, labels=labels))
        if num_gts == 0:
            continue
        inside = ((centres[:, None] > boxes[None, :, :2]) &
                  (centres[:, None] < boxes[None, :, 2:])).all(-1)  # [P, G]
        wh = boxes[:, 2:] - boxes[:, :2]
        area = wh.prod(1)
        owner = torch.where(inside, area[None], math.inf).argmin(1)
        picked = inside.any(1) & (torch.rand(num_priors, generator=gen) <
                                  gt_fraction)
        idx = picked.nonzero()[:, 0]
        gt = owner[idx]
        n = idx.numel()
        ctr = (boxes[gt, :2] + boxes[gt, 2:]) / 2 + \
            0.1 * wh[gt] * torch.randn(n, 2, generator=gen)
        size = wh[gt] * torch.exp(0.15 * torch.randn(n, 2, generator=gen))
        stride = priors[idx, 2:]
        reg[i, idx, :2] = (ctr - priors[idx, :2]) / stride
        reg[i, idx, 2:] = torch.log(size / stride)
        cls[i, idx, labels[gt]] += 5.0
        obj[i, idx] += 6.0
    return AssignInputs(priors, cls, obj, reg, decode_bboxes(priors, reg),
                        gt_instances, sizes)


def write_synthetic_coco(root: str, num_images: int, img_wh: Tuple[int, int],
                         seed: int) -> Tuple[str, str]:
    """JPEGs and a COCO json under ``root``: ``num_images`` smooth-noise
    images ``img_wh`` (w, h), 1-14 boxes each (see :func:`random_gt_boxes`),
    80 COCO categories. Returns ``(ann_file, img_prefix)`` relative to
    ``root``."""
    from mmdet.datasets import CocoDataset
    rng = np.random.RandomState(seed)
    gen = torch.Generator().manual_seed(seed)
    width, height = img_wh
    os.makedirs(osp.join(root, 'images'), exist_ok=True)
    classes = CocoDataset.METAINFO['classes']
    images, annotations = [], []
    for i in range(num_images):
        name = f'{i:06d}.jpg'
        cv2.imwrite(osp.join(root, 'images', name),
                    smooth_image(height, width, rng),
                    [cv2.IMWRITE_JPEG_QUALITY, 90])
        images.append(dict(id=i + 1, file_name=name, width=width,
                           height=height))
        boxes = random_gt_boxes(int(rng.randint(1, 15)), width, height, gen)
        for x1, y1, x2, y2 in boxes.tolist():
            annotations.append(dict(
                id=len(annotations) + 1, image_id=i + 1,
                category_id=int(rng.randint(1, len(classes) + 1)),
                bbox=[x1, y1, x2 - x1, y2 - y1], area=(x2 - x1) * (y2 - y1),
                iscrowd=0))
    categories = [dict(id=i + 1, name=n) for i, n in enumerate(classes)]
    with open(osp.join(root, 'annotations.json'), 'w') as f:
        json.dump(dict(images=images, annotations=annotations,
                       categories=categories), f)
    return 'annotations.json', 'images/'


def train_batch(batch: int, size: int, num_gts: int, seed: int) -> dict:
    """A collated batch as ``PackDetInputs`` + ``pseudo_collate`` give it:
    ``inputs`` uint8 ``(3, size, size)`` BGR, ``data_samples`` with
    ``HorizontalBoxes`` GTs (see :func:`random_gt_boxes`)."""
    from mmdet.structures import DetDataSample
    from mmdet.structures.bbox import HorizontalBoxes
    rng = np.random.RandomState(seed)
    gen = torch.Generator().manual_seed(seed)
    inputs, samples = [], []
    for _ in range(batch):
        img = smooth_image(size, size, rng)
        inputs.append(torch.from_numpy(img).permute(2, 0, 1).contiguous())
        sample = DetDataSample(metainfo=dict(
            img_shape=(size, size), ori_shape=(size, size),
            scale_factor=(1.0, 1.0), pad_shape=(size, size)))
        sample.gt_instances = InstanceData(
            bboxes=HorizontalBoxes(random_gt_boxes(num_gts, size, size,
                                                   gen)),
            labels=torch.randint(0, 80, (num_gts, ), generator=gen))
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)
