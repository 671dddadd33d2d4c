"""Speed and memory of yolox_mm against mmdet 3.3.0, side by side.

One run measures both implementations on the same inputs and prints, per
section, a table of absolute figures and the ratio ours / mmdet; at the end
a summary of the targets of issue 4, each marked met / not met::

    .venv/bin/python tools/analysis_tools/benchmark.py            # all
    .venv/bin/python tools/analysis_tools/benchmark.py --sections ad
    .venv/bin/python tools/analysis_tools/benchmark.py --smoke    # CI, < 1 min

Letters: ``B`` images, ``P`` priors over all levels (8400 at 640 x 640 with
strides 8/16/32), ``G`` GT boxes per image, ``C`` classes. Boxes are ``xyxy``
in pixels of the network input.

Sections (``--sections``, any of ``abcde``):

a. **SimOTA assignment** of a batch (B=8, 640, C=80) with G = 5, 50, 200,
   1000, plus G=50 at C=1000. Each timed call starts, as in the heads, from
   the raw outputs (priors offset by half a stride, then the
   assignment). Ours: GT padding + ``SimOTAAssigner.batch_assign_logits``
   on the batch, as our head does (the scores ``sqrt(sigmoid(cls) *
   sigmoid(obj))`` are computed inside the assigner, only where read);
   mmdet: ``scores = sqrt(sigmoid(cls) * sigmoid(obj))`` and its per-image
   ``SimOTAAssigner.assign`` loop exactly as its ``_get_targets_single``
   does. Inputs (:func:`make_assign_inputs`): priors of the 640 grid; GTs
   COCO-like (log-uniform sides 8-400 px, aspect 1:2 to 2:1, uniform
   positions, random labels); half of the priors that lie inside a GT
   predict that GT with noise (centre +-10 %, size x exp(N(0, 0.15))) and get
   high class/objectness logits, the others predict a box of ~2.7 strides
   around themselves with random low scores. For G in (5, 50) the two
   assignments are compared prior by prior ("same assignment").
b. **loss_by_feat** (assignment included) of our ``YOLOXHead`` and mmdet's,
   fed the same raw head outputs (those of a, as per-level maps requiring
   grad); forward only; the loss values are compared.
c. **Training data pipeline**: Mosaic -> RandomAffine -> MixUp -> HSV ->
   flip -> resize -> pad -> filter -> pack, the pipelines of our
   ``configs/_base_/datasets/coco_yolox.py`` (``YOLOXMixImageDataset`` with
   our Mosaic/MixUp) and of mmdet's ``yolox_s_8xb8-300e_coco.py``
   (``MultiImageMixDataset`` with mmdet's Mosaic/MixUp); all other
   transforms are mmdet's in both; a third row runs ours with
   ``cache_images=True`` (decoded images kept in RAM, the option the issue
   allows), timed after one untimed pass over every index. Samples/s in
   one process
   (``dataset[i]`` in a loop) and through a DataLoader with 2 workers
   (persistent, warmed up, ``pseudo_collate``, batch 8). Data: a synthetic
   COCO-format set of JPEGs written to a temporary directory before timing
   (200 images 640 x 480, smooth noise, 1-14 boxes, 80 classes), or a real
   set with ``--data-root/--ann-file/--img-prefix``.
d. **One training iteration** of YOLOX-s at 640, batch 4 (30 GT per image):
   ``model.train_step`` = data preprocessor (no batch resize) -> forward ->
   loss -> backward -> SGD step (momentum 0.9, Nesterov, weight decay 5e-4)
   through an mmengine ``OptimWrapper``. mmdet's model from its config,
   ours from ours with mmdet's state_dict loaded (identical keys).
e. **Inference latency** at batch 1, YOLOX-s at 640 and YOLOX-nano at 416:
   ``model.predict`` (post-processing and NMS included, ``rescale=True``)
   on a preprocessed input: ours, ours after ``fuse_conv_bn``, ours after
   ``optimize_for_inference(fuse_conv_bn=True, channels_last=True)``
   (:mod:`yolox_mm.models.utils`) and mmdet's, same weights; the detections
   and the raw head outputs are compared with mmdet's. The head's
   objectness bias is shifted so that 10 % of the priors pass
   ``score_thr`` (a plausible NMS load; random weights would otherwise
   give all or none). FLOPs are counted analytically (every
   ``nn.Conv2d``: 2 x MACs) and the attained GFLOP/s is compared with the
   fp32 peak of this CPU measured with a 2048 x 2048 ``torch.mm``.

Method:

* **Time**: ``time.perf_counter`` around each call; ``--warmup`` runs
  (default 1) excluded; the median of ``--repeats`` runs (default 5), fewer
  (at least 1) for a call whose warm-up exceeded ``--time-budget /
  repeats`` s (mmdet at G >= 200 or C=1000); the implementations are run
  alternately so that a load change affects both.
* **Threads**: ``torch.set_num_threads(--threads)``, default 1, for every
  section: the ratio is then not disturbed by the other core's load, and
  one thread is what a DataLoader worker or one rank per core gets. Pass
  ``--threads 2`` (or more) to measure multi-threaded latency. OpenCV
  threads are set to 0 in section c, as mmengine does in training.
* **Peak memory** (a): one assignment runs in a child process forked for
  the case (``fork`` shares the parent's modules and inputs copy-on-write,
  so no re-import). The child fixes glibc's mmap threshold at 128 KiB
  (``mallopt(M_MMAP_THRESHOLD)``: every block of 128 KiB or more is
  ``mmap``-ed and returned to the OS when freed, so RSS follows live
  memory), runs the assignment once (warm-up), releases the free heap
  pages it inherited or freed (``malloc_trim(0)``: reusing them then shows
  up in RSS), resets the kernel's RSS high-water mark
  (``/proc/self/clear_refs`` <- 5), runs it again and
  reports ``VmHWM - VmRSS_before``: the physical memory the call needs on
  top of its inputs. Checked on known allocations to within 0.1 %.
  Torch uses 1 thread in the child (OpenMP is not fork-safe once the
  parent has used a thread pool); memory of these algorithms does not
  depend on the thread count. A reading moves by ~5 MB with the history
  of the parent, so ours (~60 MB) is measured in two children and the
  smaller reading kept, and the C-growth target uses paired readings: at
  the C=1000 case, the C=80 inputs of the same geometry (class logits
  come from their own random stream) are measured alternately with it.
* **Memory guard**: mmdet's assignment needs ``3 * 4 * n_cand * G * C``
  bytes per image (repeated scores, repeated one-hot and BCE output,
  ``[n_cand, G, C]`` float32; n_cand = candidate priors, computed
  beforehand). A case whose estimate exceeds the limit (``--max-mem-gb``,
  default 6, and never more than 60 % of ``MemAvailable``) is reported as
  ``skipped (needs ~X GB)`` and not run (mmdet at G=1000: ~7.5 GB). Every
  child also runs under ``RLIMIT_AS`` = its size + the limit, so an
  underestimate fails the child (``failed``), never the machine; a case is
  timed in the main process only after its child succeeded.

Targets (issue 4), evaluated in the summary: (a) speed-up >= 5x at G=50 and
our peak memory not growing with C (C=1000 / C=80 <= 1.10 at G=50);
(c) >= 2x samples/s; (d) >= 1.3x; (e) >= 1.2x. Speed-up = mmdet time / our
time; memory ratio = ours / mmdet.
"""
import argparse
import contextlib
import copy
import ctypes
import gc
import io
import json
import math
import multiprocessing
import os
import os.path as osp
import random
import resource
import statistics
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
import torch
from torch import Tensor, nn

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # run from anywhere without installing
    sys.path.insert(0, str(REPO))

import mmdet  # noqa: E402
from mmdet.models.task_modules.prior_generators import \
    MlvlPointGenerator  # noqa: E402
from mmengine import DefaultScope  # noqa: E402
from mmengine.config import Config  # noqa: E402
from mmengine.structures import InstanceData  # noqa: E402

from yolox_mm.utils.complexity import conv_flops  # noqa: E402,F401

MMDET_CONFIGS = Path(osp.dirname(mmdet.__file__)) / '.mim' / 'configs' / 'yolox'
STRIDES = (8, 16, 32)
GIB = 1 << 30
MIB = 1 << 20
SUMMARY_HEADER = '== Summary: targets of issue 4 (ours vs mmdet 3.3.0) =='

#: Sizes of a full run and of ``--smoke`` (tiny, one repeat).
FULL = dict(
    a_imgs=8, a_size=640, a_gts=(5, 50, 200, 1000), a_classes=80,
    a_big_classes=1000, a_big_classes_mmdet=True, a_check_gts=(5, 50),
    a_mem_readings=2,
    c_images=200, c_img_wh=(640, 480), c_scale=640, c_samples=64,
    c_batch=8, c_batches=12,
    d_size=640, d_batch=4, d_gts=30, d_scale='s',
    e_cases=(('s', 640), ('nano', 416)), mm_n=2048,
    repeats=5, warmup=1)
SMOKE = dict(
    a_imgs=2, a_size=192, a_gts=(5, 50), a_classes=80, a_big_classes=1000,
    a_big_classes_mmdet=False, a_check_gts=(5, 50), a_mem_readings=1,
    c_images=8, c_img_wh=(320, 240), c_scale=320, c_samples=3, c_batch=2,
    c_batches=2,
    d_size=128, d_batch=2, d_gts=10, d_scale='nano',
    e_cases=(('nano', 128), ), mm_n=256,
    repeats=1, warmup=1)


# --------------------------------------------------------------- reporting
def print_table(header: Sequence[str], rows: Sequence[Sequence]) -> None:
    """Left-aligned columns, two spaces apart."""
    cells = [[str(c) for c in header]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    for i, row in enumerate(cells):
        print('  ' + '  '.join(c.ljust(w) for c, w in zip(row, widths)))
        if i == 0:
            print('  ' + '  '.join('-' * w for w in widths))
    sys.stdout.flush()


def progress(message: str) -> None:
    """A progress line on stderr (the tables go to stdout)."""
    print(f'  [{time.strftime("%H:%M:%S")}] {message}', file=sys.stderr,
          flush=True)


def fmt_ms(seconds: Optional[float]) -> str:
    return '-' if seconds is None else f'{seconds * 1e3:.1f}'


def fmt_mb(nbytes: Optional[int]) -> str:
    return '-' if nbytes is None else f'{nbytes / MIB:.1f}'


def fmt_ratio(ratio: Optional[float]) -> str:
    return '-' if ratio is None else f'{ratio:.2f}x'


@dataclass
class Target:
    """One line of the summary: ``measured`` against ``goal`` (>= unless
    ``at_most``); ``measured is None`` when the section did not run it."""
    name: str
    measured: Optional[float]
    goal: float
    at_most: bool = False
    note: str = ''

    def status(self) -> str:
        if self.measured is None:
            return 'not measured'
        met = (self.measured <= self.goal
               if self.at_most else self.measured >= self.goal)
        return 'met' if met else 'NOT met'


# ----------------------------------------------------------------- timing
def time_interleaved(fns: Dict[str, Callable[[], object]], repeats: int,
                     warmup: int, budget: float = math.inf
                     ) -> Tuple[Dict[str, float], Dict[str, object]]:
    """Median wall time (s) of each callable, and the result of its last
    call. ``warmup`` untimed calls each first; the callables then take turns
    so that a load change hits all. A callable whose warm-up took more than
    ``budget / repeats`` s is timed fewer times (at least once), so that
    its timed runs take about ``budget`` s."""
    results, slow = {}, {}
    for _ in range(warmup):
        for name, fn in fns.items():
            start = time.perf_counter()
            results[name] = fn()
            slow[name] = time.perf_counter() - start
    runs = {name: repeats for name in fns}
    for name, seconds in slow.items():
        if seconds * repeats > budget:
            runs[name] = max(1, int(budget / seconds))
    times = {name: [] for name in fns}
    for i in range(repeats):
        for name, fn in fns.items():
            if i >= runs[name]:
                continue
            results[name] = None  # free the previous result first
            start = time.perf_counter()
            results[name] = fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}, results


# ------------------------------------------------------------ peak memory
M_MMAP_THRESHOLD = -3  # glibc mallopt parameter
_RLIMIT_MARGIN = 512 * MIB  # virtual address space for arenas and stacks


def _status_bytes(key: str) -> int:
    """A ``kB`` field of ``/proc/self/status`` in bytes."""
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(key + ':'):
                return int(line.split()[1]) * 1024
    raise KeyError(key)


def mem_available() -> int:
    """``MemAvailable`` of ``/proc/meminfo`` in bytes."""
    with open('/proc/meminfo') as f:
        for line in f:
            if line.startswith('MemAvailable:'):
                return int(line.split()[1]) * 1024
    return 0


def peak_rss_supported() -> bool:
    """Whether this kernel lets a process reset its RSS high-water mark."""
    try:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')
        _status_bytes('VmHWM')
        return True
    except OSError:
        return False


def _peak_rss_child(run: Callable[[], object], limit: int, conn) -> None:
    try:
        torch.set_num_threads(1)
        libc = ctypes.CDLL('libc.so.6')
        libc.mallopt(M_MMAP_THRESHOLD, 128 * 1024)
        address_space = _status_bytes('VmSize') + limit + _RLIMIT_MARGIN
        resource.setrlimit(resource.RLIMIT_AS,
                           (address_space, resource.RLIM_INFINITY))
        with torch.no_grad():
            run()  # warm-up: lazy initialisations are not counted
            gc.collect()
            # free heap pages (the parent's and the warm-up's) stop being
            # resident, so reusing them shows up in RSS
            libc.malloc_trim(0)
            with open('/proc/self/clear_refs', 'w') as f:
                f.write('5')  # VmHWM := VmRSS
            before = _status_bytes('VmRSS')
            run()
            conn.send(('ok', _status_bytes('VmHWM') - before))
    except Exception as exc:  # reported, e.g. allocation beyond the limit
        conn.send((f'failed ({type(exc).__name__}: {str(exc)[:60]})', None))
    finally:
        conn.close()


def peak_rss_delta(run: Callable[[], object], limit: int,
                   timeout: float = 3600.0) -> Tuple[str, Optional[int]]:
    """Peak RSS (bytes) that one call of ``run`` adds, in a forked child
    limited to ``limit`` bytes more address space; see the module docstring.

    Returns:
        ``('ok', bytes)`` or ``(reason, None)``.
    """
    ctx = multiprocessing.get_context('fork')
    recv, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_peak_rss_child, args=(run, limit, send),
                       daemon=True)
    proc.start()
    send.close()
    try:
        if recv.poll(timeout):
            result = recv.recv()
        else:
            result = ('failed (timeout)', None)
    except EOFError:
        result = (f'failed (child exit code {proc.exitcode})', None)
    proc.join(10)
    if proc.is_alive():
        proc.kill()
        proc.join()
    return result


def memory_limit(max_gb: float) -> int:
    """The memory a measured case may use: ``--max-mem-gb``, at most 60 %
    of what the machine has available now."""
    return int(min(max_gb * GIB, 0.6 * mem_available()))


# ------------------------------------------------------------- model utils
def build_detector(which: str, scale: str) -> nn.Module:
    """YOLOX detector from our ``configs/yolox_{scale}_8xb8-300e_coco.py``
    (``which='ours'``) or mmdet's (``'mmdet'``), without the batch random
    resize, with PyTorch's default initialisation, eval mode."""
    if which == 'ours':
        import yolox_mm  # noqa: F401  (registration)
        from yolox_mm.registry import MODELS
        cfg = Config.fromfile(REPO / 'configs' /
                              f'yolox_{scale}_8xb8-300e_coco.py').model
        scope = 'yolox_mm'
    else:
        from mmdet.registry import MODELS
        cfg = Config.fromfile(MMDET_CONFIGS /
                              f'yolox_{scale}_8xb8-300e_coco.py').model
        scope = 'mmdet'
    cfg.data_preprocessor.batch_augments = None
    with DefaultScope.overwrite_default_scope(scope):
        model = MODELS.build(cfg)
    return model.eval()


def build_head(which: str, num_classes: int, in_channels: int = 128):
    """A stand-alone ``YOLOXHead`` (ours or mmdet's) with the configs'
    losses and SimOTA (``center_radius=2.5``)."""
    cfg = dict(type='YOLOXHead', num_classes=num_classes,
               in_channels=in_channels, feat_channels=in_channels,
               train_cfg=dict(assigner=dict(type='SimOTAAssigner',
                                            center_radius=2.5)),
               test_cfg=dict(score_thr=0.01,
                             nms=dict(type='nms', iou_threshold=0.65)))
    if which == 'ours':
        import yolox_mm  # noqa: F401
        from yolox_mm.registry import MODELS
        scope = 'yolox_mm'
    else:
        from mmdet.registry import MODELS
        scope = 'mmdet'
    with DefaultScope.overwrite_default_scope(scope):
        return MODELS.build(cfg)


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


# ------------------------------------------------- section a: the inputs
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
    """Realistic SimOTA inputs; see the module docstring, section a."""
    from yolox_mm.models.dense_heads.yolox_head import decode_bboxes
    gen = torch.Generator().manual_seed(seed)
    sizes = [(math.ceil(img_size / s), math.ceil(img_size / s))
             for s in STRIDES]
    priors = torch.cat(MlvlPointGenerator(STRIDES, offset=0).grid_priors(
        sizes, device="cpu", with_stride=True))
    num_priors = priors.shape[0]
    centres = priors[:, :2] + 0.5 * priors[:, 2:]
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


def offset_priors(priors: Tensor) -> Tensor:
    """Grid priors -> centres with the 0.5-stride offset (both heads)."""
    return torch.cat([priors[:, :2] + priors[:, 2:] * 0.5, priors[:, 2:]],
                     dim=1)


def assign_ours(assigner, inp: AssignInputs):
    """What our head's ``loss_by_feat`` + ``_assign`` do for the batch: pad
    the GTs, hand the logits to ``batch_assign_logits`` (the scores
    ``sqrt(sigmoid(cls) * sigmoid(obj))`` are computed inside, only where
    they are read)."""
    from yolox_mm.models.dense_heads.yolox_head import pad_gt_instances
    gt_bboxes, gt_labels, gt_valid = pad_gt_instances(
        inp.gt_instances, inp.cls_logits.device)
    return assigner.batch_assign_logits(offset_priors(inp.priors),
                                        inp.pred_bboxes, inp.cls_logits,
                                        inp.obj_logits, gt_bboxes, gt_labels,
                                        gt_valid)


def assign_mmdet(assigner, inp: AssignInputs) -> list:
    """What mmdet's ``YOLOXHead._get_targets_single`` does, image by image,
    up to the assignment."""
    results = []
    for i, gt_instances in enumerate(inp.gt_instances):
        scores = (inp.cls_logits[i].sigmoid() *
                  inp.obj_logits[i].unsqueeze(1).sigmoid())
        pred_instances = InstanceData(bboxes=inp.pred_bboxes[i],
                                      scores=scores.sqrt_(),
                                      priors=offset_priors(inp.priors))
        results.append(assigner.assign(pred_instances=pred_instances,
                                       gt_instances=gt_instances))
    return results


def count_mismatches(ours, mmdet_results: list) -> int:
    """Priors whose assigned GT (or background) differs."""
    ours_inds = torch.where(ours.fg_mask, ours.gt_inds + 1, 0)
    return sum(int((ours_inds[i] != r.gt_inds).sum())
               for i, r in enumerate(mmdet_results))


def mmdet_assign_bytes(inp: AssignInputs, center_radius: float = 2.5
                       ) -> int:
    """mmdet's transient ``3 x [n_cand, G, C]`` float32 of the most crowded
    image (n_cand from the candidate rule, computed here)."""
    from yolox_mm.models.task_modules.assigners.sim_ota_assigner import \
        candidate_masks
    num_classes = inp.cls_logits.shape[2]
    worst = 0
    for gt in inp.gt_instances:
        num_gts = len(gt)
        if num_gts == 0:
            continue
        valid = torch.ones(1, num_gts, dtype=torch.bool)
        candidate, _ = candidate_masks(offset_priors(inp.priors),
                                       gt.bboxes[None], valid, center_radius)
        worst = max(worst, int(candidate.sum()) * num_gts)
    return 3 * 4 * worst * num_classes


# ----------------------------------------------------- section a and b
def section_assign(sizes: dict, args, summary: List[Target]) -> dict:
    """Section a. Returns per-G decisions reused by section b."""
    from mmdet.models.task_modules.assigners import \
        SimOTAAssigner as MMDetSimOTA

    from yolox_mm.models.task_modules.assigners import SimOTAAssigner
    ours_assigner, mmdet_assigner = SimOTAAssigner(), MMDetSimOTA(
        center_radius=2.5)
    num_imgs, img_size = sizes['a_imgs'], sizes['a_size']
    mem_ok = peak_rss_supported()
    cases = [(g, sizes['a_classes']) for g in sizes['a_gts']]
    cases.append((50 if 50 in sizes['a_gts'] else sizes['a_gts'][-1],
                  sizes['a_big_classes']))
    print(f'\n(a) SimOTA assignment: B={num_imgs}, {img_size}x{img_size} '
          f'input, {args.threads} thread(s); time = median of '
          f'{sizes["repeats"]} after {sizes["warmup"]} warm-up (fewer when '
          f'a call exceeds {args.time_budget:g}/{sizes["repeats"]} s); '
          'memory = '
          'peak RSS added by one call (forked child, 1 thread)'
          + ('' if mem_ok else ' [unavailable on this kernel]'))
    rows, by_case, runnable = [], {}, {}
    base_case, big_case = (cases[-1][0], sizes['a_classes']), cases[-1]
    base_inp, paired_base = None, (None, None)
    for num_gts, num_classes in cases:
        inp = make_assign_inputs(num_imgs, img_size, num_gts, num_classes,
                                 seed=args.seed + num_gts)
        if (num_gts, num_classes) == base_case:
            base_inp = inp
        limit = memory_limit(args.max_mem_gb)
        need = mmdet_assign_bytes(inp)
        mmdet_skip = (f'skipped (needs ~{need / GIB:.1f} GB > limit '
                      f'{limit / GIB:.1f} GB)' if need > limit else None)
        if num_classes != sizes['a_classes'] and \
                not sizes['a_big_classes_mmdet']:
            mmdet_skip = 'skipped (smoke)'
        run_ours = lambda: assign_ours(ours_assigner, inp)  # noqa: E731
        run_mmdet = lambda: assign_mmdet(mmdet_assigner, inp)  # noqa: E731
        mem = {'ours': ('n/a', None), 'mmdet': ('n/a', None)}
        if mem_ok:
            # the smaller of two children: a reading can only be inflated
            # (pages of the parent's heap touched by chance), not deflated
            if (num_gts, num_classes) == big_case and base_inp is not None:
                # paired with the C=80 inputs of the same geometry, measured
                # alternately in the same parent state (the history of the
                # parent moves single readings by ~5 MB)
                run_base = lambda: assign_ours(  # noqa: E731
                    ours_assigner, base_inp)
                pairs = [(peak_rss_delta(run_base, limit),
                          peak_rss_delta(run_ours, limit))
                         for _ in range(sizes['a_mem_readings'])]
                paired_base = smallest([b for b, _ in pairs])
                mem['ours'] = smallest([o for _, o in pairs])
            else:
                mem['ours'] = smallest([
                    peak_rss_delta(run_ours, limit)
                    for _ in range(sizes['a_mem_readings'])])
            if mmdet_skip is None:
                mem['mmdet'] = peak_rss_delta(run_mmdet, limit)
        fns = {}
        if mem['ours'][0] in ('ok', 'n/a'):
            fns['ours'] = run_ours
        if mmdet_skip is None and mem['mmdet'][0] in ('ok', 'n/a'):
            fns['mmdet'] = run_mmdet
        with torch.no_grad():
            times, results = time_interleaved(fns, sizes['repeats'],
                                              sizes['warmup'],
                                              args.time_budget)
            same = '-'
            if num_gts in sizes['a_check_gts'] and len(fns) == 2 and \
                    num_classes == sizes['a_classes']:
                n_bad = count_mismatches(results['ours'], results['mmdet'])
                same = ('yes' if n_bad == 0 else 'no') + \
                    f' ({n_bad} mismatching priors)'
        t_ours, t_mm = times.get('ours'), times.get('mmdet')
        m_ours, m_mm = mem['ours'][1], mem['mmdet'][1]
        mm_time = fmt_ms(t_mm) if t_mm is not None else (
            mmdet_skip or mem['mmdet'][0])
        rows.append([
            num_gts, num_classes, fmt_ms(t_ours), mm_time,
            fmt_ratio(t_mm / t_ours if t_mm and t_ours else None),
            fmt_mb(m_ours) if m_ours is not None else mem['ours'][0],
            fmt_mb(m_mm) if m_mm is not None else (mmdet_skip or
                                                   mem['mmdet'][0]),
            fmt_ratio(m_ours / m_mm if m_ours and m_mm else None), same
        ])
        progress(f'(a) G={num_gts} C={num_classes}: ' + ' | '.join(
            str(c) for c in rows[-1][2:]))
        by_case[(num_gts, num_classes)] = dict(t_ours=t_ours, t_mmdet=t_mm,
                                               m_ours=m_ours, m_mmdet=m_mm)
        runnable[(num_gts, num_classes)] = 'mmdet' in fns
        if args.profile and num_gts == 50 and \
                num_classes == sizes['a_classes']:
            profile_call('(a) ours, batch_assign at G=50', run_ours)
        del inp, results
        gc.collect()
    print_table(['GT/img', 'C', 'ours ms', 'mmdet ms', 'speed-up', 'ours MB',
                 'mmdet MB', 'mem ours/mmdet', 'same assignment'], rows)

    g50 = (50 if 50 in sizes['a_gts'] else sizes['a_gts'][-1])
    base = by_case.get((g50, sizes['a_classes']), {})
    big = by_case.get((g50, sizes['a_big_classes']), {})
    speedup = (base['t_mmdet'] / base['t_ours']
               if base.get('t_mmdet') and base.get('t_ours') else None)
    del base_inp
    # our growth from the paired readings (same geometry, same parent
    # state); the table's C=80 row is kept as measured in its own case
    growth = (big['m_ours'] / paired_base[1]
              if big.get('m_ours') and paired_base[1] else None)
    summary.append(Target(f'(a) SimOTA speed-up at G={g50}', speedup, 5.0))
    mm_growth = (big['m_mmdet'] / base['m_mmdet']
                 if big.get('m_mmdet') and base.get('m_mmdet') else None)
    summary.append(Target(
        f'(a) our assign memory C={sizes["a_big_classes"]} / '
        f'C={sizes["a_classes"]} (G={g50})', growth, 1.10, at_most=True,
        note=(f'ours {fmt_mb(big.get("m_ours"))} / '
              f'{fmt_mb(paired_base[1])} MB (paired); mmdet: ')
        + (f'{mm_growth:.2f}x' if mm_growth else '-')))
    return runnable


def smallest(readings: List[Tuple[str, Optional[int]]]
             ) -> Tuple[str, Optional[int]]:
    """The successful ``peak_rss_delta`` reading with the fewest bytes (or
    the first failure if none succeeded)."""
    ok = [r for r in readings if r[1] is not None]
    return min(ok, key=lambda r: r[1]) if ok else readings[0]


def max_rel_diff(ours: Dict[str, object], ref: Dict[str, object]) -> float:
    """Largest ``|ours[k] - ref[k]| / |ref[k]|`` over the keys of ``ref``
    (loss dicts; tensors or floats)."""
    def value(x) -> float:
        return float(torch.as_tensor(x).detach())
    return max(abs(value(ours[k]) - value(ref[k])) /
               max(abs(value(ref[k])), 1e-12) for k in ref)


def section_loss(sizes: dict, args, runnable: dict,
                 summary: List[Target]) -> None:
    """Section b: ``loss_by_feat`` of both heads on the same outputs."""
    num_imgs, img_size = sizes['a_imgs'], sizes['a_size']
    num_classes = sizes['a_classes']
    ours_head = build_head('ours', num_classes)
    mmdet_head = build_head('mmdet', num_classes)
    print(f'\n(b) loss_by_feat (SimOTA included, forward only): '
          f'B={num_imgs}, {img_size}x{img_size}, C={num_classes}, '
          f'{args.threads} thread(s); median of {sizes["repeats"]} (fewer '
          f'when a call exceeds {args.time_budget:g}/{sizes["repeats"]} s)')
    rows, speedups = [], {}
    for num_gts in sizes['a_gts']:
        inp = make_assign_inputs(num_imgs, img_size, num_gts, num_classes,
                                 seed=args.seed + num_gts)
        outs = inp.head_outputs(requires_grad=True)
        metas = [dict(img_shape=(img_size, img_size))] * num_imgs
        skip = None
        if not runnable.get((num_gts, num_classes), True):
            skip = 'skipped (see a)'
        elif (runnable.get((num_gts, num_classes)) is None
              and mmdet_assign_bytes(inp) > memory_limit(args.max_mem_gb)):
            skip = 'skipped (memory)'

        def call(head):
            return lambda: head.loss_by_feat(*outs, inp.gt_instances, metas)

        fns = {'ours': call(ours_head)}
        if skip is None:
            fns['mmdet'] = call(mmdet_head)
        times, results = time_interleaved(fns, sizes['repeats'],
                                          sizes['warmup'], args.time_budget)
        diff = '-'
        if skip is None:
            diff = f'{max_rel_diff(results["ours"], results["mmdet"]):.1e}'
        t_ours, t_mm = times['ours'], times.get('mmdet')
        speedups[num_gts] = t_mm / t_ours if t_mm else None
        rows.append([num_gts, fmt_ms(t_ours), fmt_ms(t_mm) if t_mm else skip,
                     fmt_ratio(speedups[num_gts]), diff])
        progress(f'(b) G={num_gts}: ' + ' | '.join(map(str, rows[-1][1:])))
        del inp, outs, results
        gc.collect()
    print_table(['GT/img', 'ours ms', 'mmdet ms', 'speed-up',
                 'max rel. loss diff'], rows)
    g50 = 50 if 50 in speedups else list(speedups)[-1]
    summary.append(Target(f'(b) loss_by_feat speed-up at G={g50} (info)',
                          speedups.get(g50), 5.0))


# ------------------------------------------------------ section c: data
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


def scaled_pipeline(pipeline: list, scale: int) -> list:
    """The YOLOX training pipeline at a ``scale x scale`` canvas."""
    pipeline = copy.deepcopy(pipeline)
    for t in pipeline:
        kind = t['type'].split('.')[-1]
        if kind in ('Mosaic', 'MixUp'):
            t['img_scale'] = (scale, scale)
        elif kind == 'RandomAffine':
            t['border'] = (-scale // 2, -scale // 2)
        elif kind == 'Resize':
            t['scale'] = (scale, scale)
    return pipeline


def build_train_dataset(which: str, data_root: str, ann_file: str,
                        img_prefix: str, scale: int,
                        cache_images: bool = False):
    """Our ``YOLOXMixImageDataset`` + ``coco_yolox.py`` pipeline (with
    ``cache_images`` if asked), or mmdet's ``MultiImageMixDataset`` +
    ``yolox_s`` pipeline."""
    with open(osp.join(data_root, ann_file)) as f:
        categories = json.load(f)['categories']
    classes = tuple(c['name'] for c in sorted(categories,
                                              key=lambda c: c['id']))
    inner = dict(type='CocoDataset', data_root=data_root, ann_file=ann_file,
                 data_prefix=dict(img=img_prefix),
                 metainfo=dict(classes=classes),
                 pipeline=[dict(type='LoadImageFromFile'),
                           dict(type='LoadAnnotations', with_bbox=True)],
                 filter_cfg=dict(filter_empty_gt=False, min_size=32))
    if which == 'ours':
        import yolox_mm  # noqa: F401
        from yolox_mm.registry import DATASETS
        pipeline = Config.fromfile(REPO / 'configs' / '_base_' / 'datasets' /
                                   'coco_yolox.py').train_pipeline
        wrapper, scope = 'YOLOXMixImageDataset', 'yolox_mm'
    else:
        from mmdet.registry import DATASETS
        pipeline = Config.fromfile(MMDET_CONFIGS /
                                   'yolox_s_8xb8-300e_coco.py').train_pipeline
        wrapper, scope = 'MultiImageMixDataset', 'mmdet'
    pipeline = scaled_pipeline(pipeline, scale)
    with DefaultScope.overwrite_default_scope(scope), \
            contextlib.redirect_stdout(io.StringIO()):  # pycocotools chatter
        extra = dict(cache_images=True) if cache_images else {}
        dataset = DATASETS.build(dict(type=wrapper, dataset=inner,
                                      pipeline=pipeline, **extra))
    return dataset, [t['type'] for t in pipeline]


class _ListSampler(torch.utils.data.Sampler):
    """Yields ``self.indices``, which may be replaced between epochs."""

    def __init__(self, indices: List[int]) -> None:
        self.indices = indices

    def __iter__(self):
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)


def _seed_worker(worker_id: int) -> None:
    seed = torch.initial_seed() % 2**31
    np.random.seed(seed)
    random.seed(seed)


def fill_cache(dataset) -> None:
    """One untimed pass over every index of a ``cache_images`` dataset (the
    first epoch), so that the timed passes see the steady state: every
    image decoded once and held in RAM."""
    for i in range(len(dataset)):
        dataset[i]


def pipeline_rates(datasets: Dict[str, object], sizes: dict, seed: int
                   ) -> Dict[str, Tuple[float, float]]:
    """Samples/s of each dataset: one process, and 2-worker DataLoader.
    A dataset with ``cache_images`` is first run over every index (in the
    main process, and twice over the whole set through the warm-up of the
    DataLoader, whose workers each fill their own cache)."""
    from mmengine.dataset import pseudo_collate
    n = sizes['c_samples']
    out = {}
    single = {}
    for name, ds in datasets.items():
        order = np.random.RandomState(seed).permutation(len(ds))
        indices = [int(order[i % len(ds)]) for i in range(n)]
        if getattr(ds, 'cache_images', False):
            fill_cache(ds)

        def run(ds=ds, indices=indices):
            np.random.seed(seed)
            random.seed(seed)
            for i in indices:
                ds[i]
        single[name] = run
    times, _ = time_interleaved(single, sizes['repeats'], sizes['warmup'])
    batch, num_batches = sizes['c_batch'], sizes['c_batches']
    loader_rates = {}
    for name, ds in datasets.items():
        cached = getattr(ds, 'cache_images', False)
        warm = (2 * list(range(len(ds))) if cached else
                list(range(min(len(ds), 2 * batch))))
        sampler = _ListSampler(warm)
        loader = torch.utils.data.DataLoader(
            ds, batch_size=batch, sampler=sampler, num_workers=2,
            collate_fn=pseudo_collate, persistent_workers=True,
            worker_init_fn=_seed_worker)
        for _ in loader:  # start the workers, warm up (fill the caches)
            pass
        order = np.random.RandomState(seed).permutation(len(ds))
        sampler.indices = [int(order[i % len(ds)])
                           for i in range(batch * num_batches)]
        rates = []
        for _ in range(max(1, sizes['repeats'] // 2)):
            start = time.perf_counter()
            for _ in loader:
                pass
            rates.append(len(sampler) / (time.perf_counter() - start))
        loader_rates[name] = statistics.median(rates)
        del loader
        gc.collect()
    for name in datasets:
        out[name] = (n / times[name], loader_rates[name])
    return out


def section_data(sizes: dict, args, summary: List[Target]) -> None:
    """Section c."""
    cv2_threads = cv2.getNumThreads()
    cv2.setNumThreads(0)
    tmp = None
    try:
        if args.data_root:
            data_root, ann_file = args.data_root, args.ann_file
            img_prefix = args.img_prefix
            what = f'{data_root} ({ann_file})'
        else:
            tmp = tempfile.TemporaryDirectory(prefix='yolox_bench_')
            data_root = tmp.name
            num = args.num_images or sizes['c_images']
            ann_file, img_prefix = write_synthetic_coco(
                data_root, num, sizes['c_img_wh'], args.seed)
            what = (f'synthetic COCO, {num} JPEGs {sizes["c_img_wh"][0]}x'
                    f'{sizes["c_img_wh"][1]}, 1-14 boxes')
        scale = sizes['c_scale']
        ours, ours_types = build_train_dataset('ours', data_root, ann_file,
                                               img_prefix, scale)
        ref, ref_types = build_train_dataset('mmdet', data_root, ann_file,
                                             img_prefix, scale)
        names = [t.split('.')[-1] for t in ours_types]
        if names != [t.split('.')[-1] for t in ref_types]:
            raise RuntimeError('the two pipelines differ: '
                               f'{ours_types} vs {ref_types}')
        print(f'\n(c) training data pipeline {" -> ".join(names)} at '
              f'{scale}x{scale}; {what}; samples/s (median of '
              f'{sizes["repeats"]} passes of {sizes["c_samples"]} samples; '
              f'2-worker DataLoader: batch {sizes["c_batch"]}, '
              f'{sizes["c_batches"]} batches after warm-up)')
        cached, _ = build_train_dataset('ours', data_root, ann_file,
                                        img_prefix, scale, cache_images=True)
        rates = pipeline_rates(dict(ours=ours, cached=cached, mmdet=ref),
                               sizes, args.seed)
        rows = []
        for name, label in (('ours', 'ours'),
                            ('cached', 'ours + cache_images')):
            for i, mode in enumerate(('1 process', 'DataLoader, 2 workers')):
                r_ours, r_mm = rates[name][i], rates['mmdet'][i]
                rows.append([label, mode, f'{r_ours:.1f}', f'{r_mm:.1f}',
                             fmt_ratio(r_ours / r_mm),
                             f'{1e3 / r_ours:.1f} / {1e3 / r_mm:.1f}'])
                summary.append(Target(f'(c) pipeline samples/s, {label}, '
                                      f'{mode}', r_ours / r_mm, 2.0))
        print_table(['impl', 'mode', 'ours samples/s', 'mmdet samples/s',
                     'speed-up', 'ms/sample ours / mmdet'], rows)
        print('  cache_images: decoded images held in RAM '
              '(YOLOXMixImageDataset), timed after one pass over every index '
              '(the first epoch), so no JPEG is decoded; mmdet has no such '
              'option.')
    finally:
        cv2.setNumThreads(cv2_threads)
        if tmp is not None:
            tmp.cleanup()


# -------------------------------------------------- section d: training
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


def section_train(sizes: dict, args, summary: List[Target]) -> None:
    """Section d."""
    from mmengine.optim import OptimWrapper
    scale, size, batch = sizes['d_scale'], sizes['d_size'], sizes['d_batch']
    ref = build_detector('mmdet', scale)
    ours = build_detector('ours', scale)
    ours.load_state_dict(ref.state_dict(), strict=True)
    data = train_batch(batch, size, sizes['d_gts'], args.seed)
    steps, first = {}, {}
    for name, model in (('ours', ours), ('mmdet', ref)):
        model.train()
        wrapper = OptimWrapper(torch.optim.SGD(
            model.parameters(), lr=0.01, momentum=0.9, nesterov=True,
            weight_decay=5e-4))
        model_data = copy.deepcopy(data)
        first[name] = model.train_step(model_data, wrapper)
        steps[name] = (lambda m=model, d=model_data, w=wrapper:
                       m.train_step(d, w))
    print(f'\n(d) one training iteration, YOLOX-{scale} at {size}x{size}, '
          f'batch {batch}, {sizes["d_gts"]} GT/img (preprocess -> forward '
          f'-> loss -> backward -> SGD); {args.threads} thread(s); median '
          f'of {sizes["repeats"]}')
    times, _ = time_interleaved(steps, sizes['repeats'],
                                max(0, sizes['warmup'] - 1))
    diff = max_rel_diff(first['ours'], first['mmdet'])
    speedup = times['mmdet'] / times['ours']
    print_table(['model', 'ours ms/iter', 'mmdet ms/iter', 'speed-up',
                 'first-iter loss max rel. diff'],
                [[f'YOLOX-{scale} {size}', fmt_ms(times['ours']),
                  fmt_ms(times['mmdet']), fmt_ratio(speedup),
                  f'{diff:.1e}']])
    summary.append(Target(f'(d) train iteration YOLOX-{scale} {size} '
                          f'b{batch}', speedup, 1.3))
    if args.profile:
        profile_call('(d) ours, one training iteration', steps['ours'])


# ------------------------------------------------- section e: inference
def matmul_peak(n: int, repeats: int = 5) -> float:
    """Best fp32 FLOP/s of an ``n x n`` ``torch.mm`` (2 n^3 FLOPs)."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best


def reset_bn_statistics(model: nn.Module, inputs: Tensor) -> None:
    """BN running statistics := statistics of one forward of ``inputs``
    (cumulative average of one batch), so activations stay of order 1."""
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    momenta = [bn.momentum for bn in bns]
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None
    model.train()
    with torch.no_grad():
        model._forward(inputs)
    for bn, momentum in zip(bns, momenta):
        bn.momentum = momentum
    model.eval()


def normalise_head_outputs(model: nn.Module, inputs: Tensor) -> None:
    """Rescale the head's 1x1 prediction convs so that, on ``inputs``, each
    output channel has a plausible mean and spread (random weights give
    regression outputs of hundreds, i.e. infinite boxes): class logits
    ``N(-2, 1.5)``, ``t_xy`` ``N(0.5, 0.3)``, ``t_wh`` ``N(1, 0.5)`` (boxes of
    ~2.7 strides), objectness ``N(-4, 1.5)``."""
    head = model.bbox_head
    with torch.no_grad():
        feats = model.extract_feat(inputs)
        cls, reg, obj = head(feats)
        targets = ((head.multi_level_conv_cls, cls, [(-2.0, 1.5)]),
                   (head.multi_level_conv_reg, reg,
                    [(0.5, 0.3)] * 2 + [(1.0, 0.5)] * 2),
                   (head.multi_level_conv_obj, obj, [(-4.0, 1.5)]))
        for convs, outs, stats in targets:
            for conv, out in zip(convs, outs):
                mean = out.mean(dim=(0, 2, 3))
                std = out.std(dim=(0, 2, 3)).clamp(min=1e-6)
                mu = torch.tensor([m for m, _ in stats]).expand_as(mean)
                sigma = torch.tensor([s for _, s in stats]).expand_as(mean)
                scale = sigma / std
                conv.weight.mul_(scale[:, None, None, None])
                conv.bias.copy_(mu + (conv.bias - mean) * scale)


def calibrate_objectness(model: nn.Module, inputs: Tensor, fraction: float,
                         score_thr: float) -> int:
    """Shift the objectness biases so that ``fraction`` of the priors score
    ``max_c sigmoid(cls) * sigmoid(obj) >= score_thr``, with the threshold
    half-way (in logit) between two priors so that rounding differences do
    not change the count. Returns the count."""
    with torch.no_grad():
        cls, _, obj = model.bbox_head(model.extract_feat(inputs))
    cls = torch.cat([c.flatten(2) for c in cls], 2).sigmoid().amax(1)[0]
    obj = torch.cat([o.flatten(2) for o in obj], 2)[0, 0].double()
    # shift needed by each prior: sigmoid(obj + d) >= thr / cls
    need = (score_thr / cls.double()).clamp(max=1.0)
    shift = torch.where(need < 1, torch.logit(need) - obj, math.inf)
    shift = shift.sort().values
    k = max(1, int(fraction * obj.numel()))
    delta = float((shift[k - 1] + shift[k]) / 2) if math.isfinite(
        shift[k]) else float(shift[k - 1]) + 0.1
    with torch.no_grad():
        for conv in model.bbox_head.multi_level_conv_obj:
            conv.bias += delta
    return int((cls * (obj + delta).sigmoid() >= score_thr).sum())


def detection_distance(a: InstanceData, b: InstanceData) -> float:
    """Largest distance (px, L-inf over xyxy) from a detection of either set
    to the nearest detection of the same label in the other; order-free
    (near-equal scores may swap places between implementations)."""
    if len(a) == 0 or len(b) == 0:
        return 0.0 if len(a) == len(b) else math.inf
    dist = (a.bboxes[:, None] - b.bboxes[None]).abs().amax(-1)  # [Na, Nb]
    dist = dist.masked_fill(a.labels[:, None] != b.labels[None], math.inf)
    return max(dist.amin(1).max().item(), dist.amin(0).max().item())


#: The models of section e: (key, label). ``fused_cl`` is
#: ``optimize_for_inference(fuse_conv_bn=True, channels_last=True)``.
INFER_MODELS = (('ours', 'ours'), ('fused', 'ours + fuse_conv_bn'),
                ('fused_cl', 'ours + fuse_conv_bn + channels_last'),
                ('mmdet', 'mmdet'))


def raw_output_diff(ours: tuple, ref: tuple) -> float:
    """Largest ``max |a - b| / max |b|`` over the per-level head outputs
    (``_forward``: cls, reg, obj maps) of two models."""
    return max(float((a - b).abs().max() / b.abs().max().clamp(min=1e-12))
               for outs_a, outs_b in zip(ours, ref)
               for a, b in zip(outs_a, outs_b))


def section_infer(sizes: dict, args, summary: List[Target]) -> None:
    """Section e."""
    from mmdet.structures import DetDataSample
    peak = matmul_peak(sizes['mm_n'])
    print(f'\n(e) inference latency, batch 1, model.predict (NMS '
          f'included); {args.threads} thread(s); median of '
          f'{sizes["repeats"]}; fp32 torch.mm peak of this CPU: '
          f'{peak / 1e9:.1f} GFLOP/s')
    rows = []
    for scale, size in sizes['e_cases']:
        ref = build_detector('mmdet', scale)
        rng = np.random.RandomState(args.seed)
        img = torch.from_numpy(smooth_image(size, size, rng)).permute(
            2, 0, 1).contiguous()
        sample = DetDataSample(metainfo=dict(
            img_shape=(size, size), ori_shape=(size, size),
            scale_factor=(1.0, 1.0)))
        data = ref.data_preprocessor(dict(inputs=[img],
                                          data_samples=[sample]), False)
        inputs, samples = data['inputs'], data['data_samples']
        reset_bn_statistics(ref, inputs)
        normalise_head_outputs(ref, inputs)
        n_cand = calibrate_objectness(ref, inputs, 0.1,
                                      ref.bbox_head.test_cfg.score_thr)
        ours = build_detector('ours', scale)
        ours.load_state_dict(ref.state_dict(), strict=True)
        fused = copy.deepcopy(ours).fuse_conv_bn()
        fused_cl = copy.deepcopy(ours).optimize_for_inference(
            fuse_conv_bn=True, channels_last=True)
        models = dict(ours=ours, fused=fused, fused_cl=fused_cl, mmdet=ref)
        # one list of data samples per model: predict writes into them
        fns = {name: (lambda m=m, s=copy.deepcopy(samples):
                      m.predict(inputs, s, rescale=True))
               for name, m in models.items()}
        with torch.no_grad():
            times, results = time_interleaved(fns, sizes['repeats'],
                                              sizes['warmup'])
            dets = {name: r[0].pred_instances for name, r in results.items()}
            raw = {name: m._forward(inputs) for name, m in models.items()}
        flops = conv_flops(ours, inputs)
        ref_dets = dets['mmdet']
        for name, label in INFER_MODELS:
            d = dets[name]
            same = '-'
            if name != 'mmdet':
                same = (f'{len(d)} vs {len(ref_dets)}, max |dbox| '
                        f'{detection_distance(d, ref_dets):.1e} px, raw '
                        f'{raw_output_diff(raw[name], raw["mmdet"]):.1e}')
            speedup = times['mmdet'] / times[name]
            rows.append([f'YOLOX-{scale} {size}', label, fmt_ms(times[name]),
                         fmt_ratio(speedup) if name != 'mmdet' else '-',
                         f'{flops / 1e9:.2f}',
                         f'{flops / times[name] / 1e9:.1f}',
                         f'{100 * flops / times[name] / peak:.0f}%',
                         f'{n_cand}', same])
            if name != 'mmdet':
                summary.append(Target(
                    f'(e) latency YOLOX-{scale} {size}, {label}', speedup,
                    1.2))
        del ref, ours, fused, fused_cl, models, raw
        gc.collect()
    print_table(['model', 'impl', 'ms', 'speed-up', 'GFLOP', 'GFLOP/s',
                 '% of mm peak', 'pre-NMS boxes',
                 'detections vs mmdet (count, box distance, raw outputs)'],
                rows)
    print('  raw outputs: largest |ours - mmdet| of the head outputs (cls, '
          'reg, obj logits) over the largest |mmdet| of the same output')


# --------------------------------------------------------------- profiling
def profile_call(title: str, fn: Callable[[], object], rows: int = 15
                 ) -> None:
    """Top ops (self CPU time) of one call of ``fn`` (after one warm-up)."""
    from torch.profiler import ProfilerActivity, profile
    fn()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        fn()
    print(f'\n  profile: {title}')
    print(prof.key_averages().table(sort_by='self_cpu_time_total',
                                    row_limit=rows))


# -------------------------------------------------------------------- main
def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='yolox_mm vs mmdet 3.3.0: SimOTA, loss, data pipeline, '
        'training iteration and inference, side by side.')
    parser.add_argument('--sections', default='abcde',
                        help='any of a (SimOTA), b (loss_by_feat), c (data '
                        'pipeline), d (training iteration), e (inference); '
                        'default abcde')
    parser.add_argument('--smoke', action='store_true',
                        help='tiny sizes and 1 repeat (CI, < 1 min)')
    parser.add_argument('--threads', type=int, default=1,
                        help='torch.set_num_threads (default 1)')
    parser.add_argument('--repeats', type=int, default=None,
                        help='timed runs per case (median); default 5')
    parser.add_argument('--warmup', type=int, default=None,
                        help='untimed runs per case first; default 1')
    parser.add_argument('--gts', type=int, nargs='+', default=None,
                        help='GT per image of sections a and b; default '
                        '5 50 200 1000')
    parser.add_argument('--time-budget', type=float, default=60.0,
                        help='seconds of timed runs per implementation and '
                        'case in a/b: a case whose warm-up took longer than '
                        'budget/repeats is timed fewer times (default 60)')
    parser.add_argument('--max-mem-gb', type=float, default=6.0,
                        help='memory a case may need (default 6; capped at '
                        '60%% of MemAvailable); mmdet at 1000 GT needs ~7.5')
    parser.add_argument('--data-root', default=None,
                        help='section c on a real COCO-format set, e.g. '
                        'data/deepforest/ (default: synthetic JPEGs)')
    parser.add_argument('--ann-file', default='annotations/train.json',
                        help='relative to --data-root')
    parser.add_argument('--img-prefix', default='images/',
                        help='relative to --data-root')
    parser.add_argument('--num-images', type=int, default=None,
                        help='size of the synthetic set (default 200)')
    parser.add_argument('--profile', action='store_true',
                        help='print torch.profiler top ops of ours in a '
                        '(G=50) and d')
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args(argv)
    unknown = set(args.sections) - set('abcde')
    if unknown:
        parser.error(f'--sections takes letters of abcde, got {args.sections}')
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    sizes = dict(SMOKE if args.smoke else FULL)
    for key in ('repeats', 'warmup'):
        if getattr(args, key) is not None:
            sizes[key] = getattr(args, key)
    if args.gts:
        sizes['a_gts'] = tuple(args.gts)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    warnings.filterwarnings('ignore', category=FutureWarning)
    warnings.filterwarnings('ignore', message='torch.meshgrid')
    import yolox_mm  # noqa: F401  (registration)
    from mmdet.utils import register_all_modules
    register_all_modules(init_default_scope=False)

    start = time.perf_counter()
    print(f'yolox_mm vs mmdet {mmdet.__version__}, torch {torch.__version__}'
          f', {os.cpu_count()} CPU(s), torch threads {args.threads}'
          + (' [SMOKE: tiny sizes, ratios not meaningful]'
             if args.smoke else ''))
    summary: List[Target] = []
    runnable = {}
    if 'a' in args.sections:
        runnable = section_assign(sizes, args, summary)
    if 'b' in args.sections:
        section_loss(sizes, args, runnable, summary)
    if 'c' in args.sections:
        section_data(sizes, args, summary)
    if 'd' in args.sections:
        section_train(sizes, args, summary)
    if 'e' in args.sections:
        section_infer(sizes, args, summary)

    print(f'\n{SUMMARY_HEADER}'
          + (' [SMOKE sizes: not meaningful]' if args.smoke else ''))
    print_table(['target', 'measured', 'goal', 'status', 'note'], [[
        t.name, fmt_ratio(t.measured),
        ('<= ' if t.at_most else '>= ') + f'{t.goal:g}x', t.status(), t.note
    ] for t in summary])
    print(f'\ntotal time {time.perf_counter() - start:.0f} s')
    return 0


if __name__ == '__main__':
    sys.exit(main())
