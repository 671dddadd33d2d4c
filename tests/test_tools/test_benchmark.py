"""``tools/analysis_tools/benchmark.py --smoke`` runs every section and
prints the summary (what CI runs of the benchmark).

Not marked slow: about 10 s on an idle 2-core machine (imports included);
over a minute when the machine is busy.
"""
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / 'tools' / 'analysis_tools' / 'benchmark.py'
SUMMARY_HEADER = '== Summary: targets of issue 4 (ours vs mmdet 3.3.0) =='


def test_benchmark_smoke_runs_every_section():
    proc = subprocess.run([sys.executable, str(SCRIPT), '--smoke'],
                          cwd=REPO, capture_output=True, text=True,
                          timeout=900)
    assert proc.returncode == 0, (
        f'benchmark --smoke exited with {proc.returncode}:\n'
        f'{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}')
    out = proc.stdout
    assert SUMMARY_HEADER in out
    for section in ('(a) SimOTA assignment', '(b) loss_by_feat',
                    '(c) training data pipeline',
                    '(d) one training iteration', '(e) inference latency'):
        assert section in out, f'section {section!r} missing:\n{out}'
    # the batched assigner agrees with mmdet's prior by prior
    assert out.count('yes (0 mismatching priors)') == 2, out
    summary = out.split(SUMMARY_HEADER, 1)[1]
    for target in ('(a) SimOTA speed-up', '(c) pipeline samples/s',
                   '(d) train iteration', '(e) latency'):
        assert target in summary, f'{target!r} missing from the summary'
