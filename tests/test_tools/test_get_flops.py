"""``tools/analysis_tools/get_flops.py`` (the CLI itself, in a subprocess)."""
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_get_flops_prints_a_table_row():
    out = subprocess.run(
        [sys.executable, 'tools/analysis_tools/get_flops.py',
         'configs/yolox_nano_8xb8-300e_coco.py'],
        cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    row = [line for line in out.stdout.splitlines()
           if line.startswith('| yolox_nano')]
    # the published parameter count; the package counter's GFLOPs at the
    # config's test size (416; the counter itself is checked by hand in
    # tests/test_utils/test_complexity.py)
    from mmengine.config import Config
    from mmengine.registry import DefaultScope

    import yolox_mm  # noqa: F401
    from yolox_mm.registry import MODELS
    from yolox_mm.utils import complexity
    cfg = Config.fromfile(str(REPO / 'configs/yolox_nano_8xb8-300e_coco.py'))
    with DefaultScope.overwrite_default_scope('yolox_mm'):
        gflops = complexity(MODELS.build(cfg.model), (416, 416))[1]
    assert row == ['| yolox_nano_8xb8-300e_coco.py | 416x416 | 912,159 | '
                   f'{gflops:.2f} |']
