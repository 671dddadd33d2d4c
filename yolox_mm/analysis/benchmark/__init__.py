"""Speed and memory of yolox_mm against mmdet 3.3.0 and, where it has the
same function (sections c, d, e), Megvii's official YOLOX (yolox-datamint
0.3.1, import name ``yolox``), side by side.

One run measures the implementations on the same inputs, interleaved; each
section (one module here) returns a table of absolute figures and the
ratios ours / mmdet and ours / Megvii (:class:`~.report.SectionResult`),
and :mod:`.run` collects the ratios in a summary. ``--no-megvii``
(``Options.megvii=False``) leaves the Megvii column out (needed when
yolox-datamint is not installed). The CLI is
``tools/analysis_tools/benchmark.py``::

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
   does. Inputs (:func:`yolox_mm.testing.synthetic.make_assign_inputs`):
   priors of the 640 grid; GTs COCO-like (log-uniform sides 8-400 px,
   aspect 1:2 to 2:1, uniform positions, random labels); half of the priors
   that lie inside a GT predict that GT with noise (centre +-10 %, size x
   exp(N(0, 0.15))) and get high class/objectness logits, the others predict a
   box of ~2.7 strides around themselves with random low scores. For G in (5,
   50) the two assignments are compared prior by prior ("same assignment").
b. **loss_by_feat** (assignment included) of our ``YOLOXHead`` and mmdet's,
   fed the same raw head outputs (those of a, as per-level maps requiring
   grad); forward only; the loss values are compared.
c. **Training data pipeline**: Mosaic -> RandomAffine -> MixUp -> HSV ->
   flip -> resize -> pad -> filter -> pack, the pipelines of our
   ``configs/_base_/datasets/coco_yolox.py`` (``YOLOXMixImageDataset`` with
   our Mosaic/MixUp) and of mmdet's ``yolox_s_8xb8-300e_coco.py``
   (``MultiImageMixDataset`` with mmdet's Mosaic/MixUp); all other
   transforms are mmdet's in both; a third row runs ours with
   ``cache_images=True`` (decoded images kept in RAM), timed after one
   untimed pass over every index. Samples/s in one process
   (``dataset[i]`` in a loop) and through a DataLoader with 2 workers
   (persistent, warmed up, ``pseudo_collate``, batch 8). Data: a synthetic
   COCO-format set of JPEGs written to a temporary directory before timing
   (200 images 640 x 480, smooth noise, 1-14 boxes, 80 classes), or a real
   set with ``--data-root/--ann-file/--img-prefix``. Megvii: its
   ``MosaicDetection`` + ``TrainTransform(max_labels=120)`` over the same
   images (:class:`yolox_mm.testing.megvii_data.MegviiCocoAdapter`) with
   our pipeline's settings (mosaic prob 1, degrees, translate, scale,
   shear, MixUp on with our ratio range, HSV, flip, the same canvas), its
   DataLoader collating with torch's ``default_collate``.
d. **One training iteration** of YOLOX-s at 640, batch 4 (30 GT per image):
   ``model.train_step`` = data preprocessor (no batch resize) -> forward ->
   loss -> backward -> SGD step (momentum 0.9, Nesterov, weight decay 5e-4)
   through an mmengine ``OptimWrapper``. mmdet's model from its config,
   ours from ours with mmdet's state_dict loaded (identical keys). Megvii:
   ``YOLOX`` (YOLOPAFPN + YOLOXHead) with the same weights (key map of
   :mod:`yolox_mm.utils.megvii_checkpoint`) and batch (padded cxcywh
   targets): forward with ``get_losses`` -> backward -> the same SGD step.
   The first iteration's losses are compared with both.
e. **Inference latency** at batch 1, YOLOX-s at 640 and YOLOX-nano at 416:
   ``model.predict`` (post-processing and NMS included, ``rescale=True``)
   on a preprocessed input: ours, ours after ``fuse_conv_bn``, ours after
   ``optimize_for_inference(fold_bn=True, channels_last=True)``,
   mmdet's and Megvii's forward + ``yolox.utils.postprocess`` (NMS: mmcv's
   compiled ``nms`` behind a torchvision stand-in when torchvision is
   missing), same weights; the detections and the raw head outputs are
   compared with mmdet's. The head's
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

Speed-up = their time / our time (mmdet or Megvii); memory ratio = ours /
mmdet. The goals
these ratios are held against are in ``docs/benchmarks.md``.
"""
