"""What a benchmark run measures (:class:`Sizes`) and how
(:class:`Options`)."""
from dataclasses import dataclass
from typing import Optional, Tuple


@dataclass(frozen=True)
class Sizes:
    """Sizes of each section (a: SimOTA, b: loss, c: data pipeline, d:
    training iteration, e: inference); :data:`FULL` and :data:`SMOKE`.

    Attributes:
        a_imgs, a_size: Batch ``B`` and square input side (px) of a and b.
        a_gts: GT per image ``G`` of the cases of a and b.
        a_classes, a_big_classes: ``C`` of the cases, and of the extra case
            at G=50 that shows how memory grows with ``C``.
        a_big_classes_mmdet: Run mmdet at ``a_big_classes`` too.
        a_check_gts: ``G`` at which the assignments are compared prior by
            prior.
        a_mem_readings: Peak-memory readings of ours per case (the
            smallest is kept).
        c_images, c_img_wh: Size of the synthetic set and its ``(w, h)``.
        c_scale: Canvas side of the pipeline (px).
        c_samples: Samples per timed pass in one process.
        c_batch, c_batches: DataLoader batch size and timed batches.
        d_size, d_batch, d_gts, d_scale: Input side, batch, GT per image
            and model scale of d.
        e_cases: ``(scale, input side)`` of e.
        mm_n: Side of the ``torch.mm`` that measures the CPU's peak.
        repeats, warmup: Timed and untimed runs per case.
    """
    a_imgs: int
    a_size: int
    a_gts: Tuple[int, ...]
    a_classes: int
    a_big_classes: int
    a_big_classes_mmdet: bool
    a_check_gts: Tuple[int, ...]
    a_mem_readings: int
    c_images: int
    c_img_wh: Tuple[int, int]
    c_scale: int
    c_samples: int
    c_batch: int
    c_batches: int
    d_size: int
    d_batch: int
    d_gts: int
    d_scale: str
    e_cases: Tuple[Tuple[str, int], ...]
    mm_n: int
    repeats: int
    warmup: int

    @property
    def g50(self) -> int:
        """The ``G`` of the C-growth case and of the summary: 50 when
        measured, else the largest."""
        return 50 if 50 in self.a_gts else self.a_gts[-1]


FULL = Sizes(
    a_imgs=8, a_size=640, a_gts=(5, 50, 200, 1000), a_classes=80,
    a_big_classes=1000, a_big_classes_mmdet=True, a_check_gts=(5, 50),
    a_mem_readings=2,
    c_images=200, c_img_wh=(640, 480), c_scale=640, c_samples=64,
    c_batch=8, c_batches=12,
    d_size=640, d_batch=4, d_gts=30, d_scale='s',
    e_cases=(('s', 640), ('nano', 416)), mm_n=2048,
    repeats=5, warmup=1)
SMOKE = Sizes(
    a_imgs=2, a_size=192, a_gts=(5, 50), a_classes=80, a_big_classes=1000,
    a_big_classes_mmdet=False, a_check_gts=(5, 50), a_mem_readings=1,
    c_images=8, c_img_wh=(320, 240), c_scale=320, c_samples=3, c_batch=2,
    c_batches=2,
    d_size=128, d_batch=2, d_gts=10, d_scale='nano',
    e_cases=(('nano', 128), ), mm_n=256,
    repeats=1, warmup=1)


@dataclass(frozen=True)
class Options:
    """How a run measures.

    Attributes:
        threads: ``torch.set_num_threads`` (reported in the titles).
        seed: Seed of every synthetic input.
        time_budget: Seconds of timed runs per implementation and case in
            a/b (see :func:`~.timing.time_interleaved`).
        max_mem_gb: Memory a case of a/b may need (capped at 60 % of
            ``MemAvailable``).
        profile: Add torch.profiler tables of ours in a (G=50) and d.
        data_root, ann_file, img_prefix: A real COCO-format set for c
            (None: synthetic JPEGs).
        num_images: Size of the synthetic set (None: ``Sizes.c_images``).
        megvii: Measure Megvii's YOLOX (yolox-datamint 0.3.1) as a third
            column in c, d and e.
    """
    threads: int = 1
    seed: int = 0
    time_budget: float = 60.0
    max_mem_gb: float = 6.0
    profile: bool = False
    data_root: Optional[str] = None
    ann_file: str = 'annotations/train.json'
    img_prefix: str = 'images/'
    num_images: Optional[int] = None
    megvii: bool = True
