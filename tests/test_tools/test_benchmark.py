""":mod:`yolox_mm.analysis.benchmark` and the helpers it shares with the
tests (:mod:`yolox_mm.testing`): the measuring tools on cases with known
answers, the sections in-process at tiny sizes (ours against mmdet 3.3.0:
same assignment, same losses, same detections), and the CLI once
(``--smoke``, slow).
"""
import dataclasses
import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from mmengine.structures import InstanceData
from torch import nn

from yolox_mm.analysis.benchmark import megvii as bench_megvii
from yolox_mm.analysis.benchmark import report
from yolox_mm.analysis.benchmark.assign import section_assign
from yolox_mm.analysis.benchmark.data import rate_rows as data_rows
from yolox_mm.analysis.benchmark.data import section_data
from yolox_mm.analysis.benchmark.flops import conv_flops
from yolox_mm.analysis.benchmark.infer import (INFER_MODELS,
                                               detection_distance,
                                               section_infer)
from yolox_mm.analysis.benchmark.loss import section_loss
from yolox_mm.analysis.benchmark.run import SUMMARY_TITLE, run_sections
from yolox_mm.analysis.benchmark.sizes import SMOKE, Options
from yolox_mm.analysis.benchmark.timing import time_interleaved
from yolox_mm.analysis.benchmark.train import section_train
from yolox_mm.testing.calibrate import (calibrate_objectness,
                                        normalise_head_outputs,
                                        reset_bn_statistics)
from yolox_mm.testing.memory import (MIB, peak_rss_delta,
                                     peak_rss_supported, smallest)
from yolox_mm.testing.reference import build_detector
from yolox_mm.testing.synthetic import bgr_images

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / 'tools' / 'analysis_tools' / 'benchmark.py'
#: Smaller than ``--smoke``: 96 px, one image, 5 and 20 GTs.
TINY = dataclasses.replace(SMOKE, a_imgs=1, a_size=96, a_gts=(5, 20),
                           a_check_gts=(5, 20), d_size=64, d_batch=1,
                           d_gts=3, e_cases=(('nano', 64), ), mm_n=64)
#: Section c at a 128 px canvas on 6 synthetic JPEGs 160 x 120.
TINY_C = dataclasses.replace(SMOKE, c_scale=128, c_img_wh=(160, 120),
                             c_images=6)
OPTS = Options(max_mem_gb=1.0)


class FakeClock:
    """``perf_counter`` stand-in: each call of a timed function advances it
    by that function's duration."""

    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def work(self, name, durations, log):
        def fn():
            log.append(name)
            self.now += durations.pop(0)
            return name
        return fn


def test_time_interleaved_medians_turns_and_budget():
    clock, log = FakeClock(), []
    fns = {'fast': clock.work('fast', [9.0, 1.0, 3.0, 2.0], log),
           'slow': clock.work('slow', [50.0, 40.0, 45.0], log)}
    # warm-up of 50 s x 3 repeats > budget 100 s: slow is timed
    # int(100 / 50) = 2 times, fast 3 times; they take turns
    times, results = time_interleaved(fns, repeats=3, warmup=1, budget=100,
                                      clock=clock)
    assert log == ['fast', 'slow', 'fast', 'slow', 'fast', 'slow', 'fast']
    assert times == {'fast': 2.0, 'slow': 42.5}  # medians of the timed runs
    assert results == {'fast': 'fast', 'slow': 'slow'}


def test_format_table_and_section_text():
    table = report.format_table(['GT', 'ms'], [[5, '1.0'], [1000, '12.5']])
    assert table.splitlines() == ['  GT    ms  ', '  ----  ----',
                                  '  5     1.0 ', '  1000  12.5']
    result = report.SectionResult('(x) title', ['GT', 'ms'],
                                  [[5, '1.0']], notes=['a note'])
    assert result.column('ms') == ['1.0']
    assert result.text().splitlines() == ['', '(x) title', '  GT  ms ',
                                          '  --  ---', '  5   1.0',
                                          '  a note']
    assert (report.fmt_ms(0.0123), report.fmt_mb(3 * MIB),
            report.fmt_ratio(None)) == ('12.3', '3.0', '-')
    assert report.SummaryRow('(a) x', 2.5, 'n').cells() == ['(a) x', '2.50x',
                                                            'n']


class _TwoConvs(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(3, 8, 3, padding=1)
        self.b = nn.Conv2d(8, 8, 3, stride=2, padding=1, groups=8)

    def _forward(self, x):
        return self.b(self.a(x))


def test_conv_flops_by_hand():
    # a: 8 x 10 x 10 outputs x 3 x 3 x 3 MACs; b (depthwise, stride 2):
    # 8 x 5 x 5 outputs x 1 x 3 x 3 MACs; 2 FLOPs a MAC
    expected = 2 * (800 * 27 + 200 * 9)
    assert conv_flops(_TwoConvs(), torch.zeros(1, 3, 10, 10)) == expected


def test_detection_distance_by_hand():
    a = InstanceData(bboxes=torch.tensor([[0., 0., 10., 10.],
                                          [20., 20., 30., 30.]]),
                     labels=torch.tensor([0, 1]))
    b = InstanceData(bboxes=torch.tensor([[20., 21., 30., 30.],
                                          [0.5, 0., 10., 10.]]),
                     labels=torch.tensor([1, 0]))
    assert detection_distance(a, b) == 1.0  # order-free, same labels
    b.labels = torch.tensor([0, 1])  # now only far boxes share a label
    assert detection_distance(a, b) == 21.0
    assert detection_distance(a, b[:0]) == float('inf')


@pytest.mark.skipif(not peak_rss_supported(), reason='no clear_refs')
def test_peak_rss_delta_of_a_known_allocation():
    readings = [peak_rss_delta(lambda: torch.ones(16 * MIB // 4), 256 * MIB)
                for _ in range(2)]
    status, nbytes = smallest(readings)
    assert status == 'ok'
    # 16 MiB of float32 ones, within 2 % (the child's other pages move a
    # reading by some 10 pages)
    assert abs(nbytes - 16 * MIB) <= 0.02 * 16 * MIB, nbytes
    # 8 GiB is above the child's address-space limit (32 MiB + a 512 MiB
    # margin for arenas and stacks): the child fails, not the test. (1 GiB
    # once fitted in a CI run, probably from the free heap the forked child
    # inherits, which needs no new address space; 8 GiB, untouched, fits
    # this machine without the limit, as the second call shows.)
    status, nbytes = peak_rss_delta(lambda: torch.empty(2048 * MIB),
                                    32 * MIB)
    assert status.startswith('failed') and nbytes is None
    status, _ = peak_rss_delta(lambda: torch.empty(2048 * MIB),
                               16 * 1024 * MIB)
    assert status == 'ok'


def test_calibrated_objectness_passes_the_asked_fraction():
    model = build_detector('mmdet', 'nano', batch_augments=False)
    inputs = bgr_images(1, 64, seed=0)
    reset_bn_statistics(model, inputs)
    normalise_head_outputs(model, inputs)
    # 64 px: 8^2 + 4^2 + 2^2 = 84 priors; 10 % -> 8 above the threshold
    assert calibrate_objectness(model, inputs, 0.1, 0.01) == 8
    # the model's own scores agree
    with torch.no_grad():
        cls, _, obj = model.bbox_head(model.extract_feat(inputs))
    score = torch.cat([(c.sigmoid().amax(1) * o.sigmoid()[:, 0]).flatten()
                       for c, o in zip(cls, obj)])
    assert int((score >= 0.01).sum()) == 8


def test_sections_a_and_b_agree_with_mmdet():
    a = section_assign(TINY, OPTS)
    assert a.column('GT/img') == [5, 20, 20]
    assert a.column('C') == [80, 80, 1000]
    assert a.column('same assignment') == ['yes (0 mismatching priors)'] * 2 \
        + ['-']
    assert a.column('mmdet ms')[2] == 'skipped (smoke)'
    assert a.mmdet_runnable == {(5, 80): True, (20, 80): True,
                                (20, 1000): False}
    assert [s.name for s in a.summary] == [
        '(a) SimOTA speed-up at G=20',
        '(a) our assign memory C=1000 / C=80 (G=20)']
    b = section_loss(TINY, OPTS, a.mmdet_runnable)
    assert b.column('GT/img') == [5, 20]
    assert all(float(d) < 1e-6 for d in b.column('max rel. loss diff'))


def _positive_ms(cells) -> bool:
    return all(math.isfinite(float(c)) and float(c) > 0 for c in cells)


def test_sections_d_and_e_agree_with_mmdet_and_megvii():
    torch.manual_seed(0)
    d = section_train(TINY, OPTS)
    assert d.column('model') == ['YOLOX-nano 64']
    # same losses up to float32 rounding: mmdet's Swish and our SiLU differ
    # by ~1 ulp per activation, and the losses of 3 GTs on 64 px are small
    # (8e-6 to 1.1e-4 measured over seeds 0-3; test_parity/test_train_step
    # checks bit-for-bit equality with Swish replaced)
    assert float(d.column('first-iter loss max rel. diff')[0]) < 1e-3
    # Megvii: the same SiLU and SPP forward, so its get_losses on the same
    # weights and batch gives our losses (relative 1e-5, the bound of
    # test_parity/test_loss.py; measured 0 to 6e-8)
    assert float(d.column('vs Megvii')[0]) <= 1e-5
    assert _positive_ms(d.column('Megvii ms/iter') + d.column('ours ms/iter'))
    assert d.column('speed-up vs Megvii')[0].endswith('x')
    assert [s.name for s in d.summary] == [
        '(d) train iteration YOLOX-nano 64 b1, vs mmdet',
        '(d) train iteration YOLOX-nano 64 b1, vs Megvii',
        '(d) train iteration YOLOX-nano 64 b1, ours NHWC vs ours']
    # NHWC: the same weights and batch, so the same losses up to the float
    # rounding of other kernels, which this untrained net amplifies
    # (measured 3.7e-5 to 1.9e-3 over seeds 0-3; another initialisation
    # differs by 0.31)
    assert float(d.column('NHWC loss diff')[0]) < 1e-2
    assert _positive_ms(d.column('ours NHWC ms/iter'))
    assert d.column('NHWC vs ours')[0].endswith('x')
    e = section_infer(TINY, OPTS)
    assert e.column('impl') == [label for _, label in INFER_MODELS] + [
        'Megvii']
    assert _positive_ms(e.column('ms'))
    # ours and Megvii: same count as mmdet's and the same boxes
    cells = e.column('detections vs mmdet (count, box distance, raw '
                     'outputs)')
    for cell in cells[:3] + cells[4:]:
        counts, dist, _ = cell.split(', ')
        n_ours, n_mmdet = counts.split(' vs ')
        assert n_ours == n_mmdet
        assert float(dist.split()[-2]) < 0.1  # px
    assert all(c.endswith('x') for c in e.column('speed-up vs Megvii')[:3])
    assert e.column('speed-up vs Megvii')[3:] == ['-', '-']
    assert len(e.summary) == 6


def test_section_c_has_the_megvii_column():
    c = section_data(TINY_C, OPTS)
    assert c.column('impl') == (['ours'] * 2 +
                                ['ours, fused (fuse=True)'] * 2 +
                                ['ours + cache_images'] * 2)
    for name in ('ours samples/s', 'mmdet samples/s', 'Megvii samples/s'):
        assert _positive_ms(c.column(name)), name
    assert all(c.endswith('x') for c in c.column('speed-up vs Megvii'))
    assert len(c.summary) == 12
    assert sum('vs Megvii' in s.name for s in c.summary) == 6


def test_without_megvii_its_cells_are_dashes(monkeypatch):
    rates = dict(ours=(10.0, 20.0), cached=(40.0, 50.0), mmdet=(5.0, 10.0))
    rows, summary = data_rows(rates)
    assert rows[0] == ['ours', '1 process', '10.0', '5.0', '-', '2.00x', '-',
                       '100.0 / 200.0 / -']
    assert [s.measured for s in summary] == [2.0, 2.0, 8.0, 5.0]
    rates['megvii'] = (20.0, 40.0)
    rows, summary = data_rows(rates)
    assert rows[3][4:] == ['40.0', '5.00x', '1.25x', '20.0 / 100.0 / 25.0']
    assert len(summary) == 8
    # asked for but not installed: a clear error naming the way out
    monkeypatch.setattr(bench_megvii, 'megvii_available', lambda: False)
    with pytest.raises(ImportError, match='--no-megvii'):
        bench_megvii.use_megvii(OPTS)
    assert not bench_megvii.use_megvii(Options(megvii=False))


def test_run_sections_rejects_unknown_letters():
    with pytest.raises(ValueError, match="got 'az'"):
        run_sections('az', TINY, OPTS)


@pytest.mark.slow
def test_cli_smoke_runs_every_section():
    proc = subprocess.run([sys.executable, str(SCRIPT), '--smoke'],
                          cwd=REPO, capture_output=True, text=True,
                          timeout=900)
    assert proc.returncode == 0, (
        f'benchmark --smoke exited with {proc.returncode}:\n'
        f'{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}')
    for section in ('(a) SimOTA assignment', '(b) loss_by_feat',
                    '(c) training data pipeline',
                    '(d) one training iteration', '(e) inference latency',
                    'Megvii samples/s', 'Megvii ms/iter', SUMMARY_TITLE):
        assert section in proc.stdout, section


def test_cli_picks_the_model_of_section_d():
    """``--d-scale nano --d-size 416`` (the tree job's model) reaches the
    sizes of section d; the rest stays the full run's."""
    import importlib.util
    spec = importlib.util.spec_from_file_location('benchmark_cli', SCRIPT)
    cli = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cli)
    sizes, _ = cli.sizes_and_options(
        cli.parse_args(['--d-scale', 'nano', '--d-size', '416']))
    assert (sizes.d_scale, sizes.d_size, sizes.d_batch) == ('nano', 416, 4)
    default, _ = cli.sizes_and_options(cli.parse_args([]))
    assert (default.d_scale, default.d_size) == ('s', 640)
