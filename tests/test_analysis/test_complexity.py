"""``yolox_mm.analysis.complexity`` and ``tools/analysis_tools/
get_flops.py``: a convolution counted by hand, and the YOLOX models against
the GFLOPs and parameters of Megvii's README (GFLOPs = 2 x multiply-adds,
``yolox/utils/model_utils.py::get_model_info``)."""
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config

from yolox_mm.analysis.complexity import (build_model, default_input_shape,
                                          model_complexity)
from .tiny_data import REPO

GET_FLOPS = REPO / 'tools' / 'analysis_tools' / 'get_flops.py'


def test_one_conv_counted_by_hand():
    conv = torch.nn.Conv2d(3, 8, 3, padding=1)
    result = model_complexity(conv, (16, 20))
    # one multiply-add per output element and kernel tap (bias not counted)
    assert result.macs == 16 * 20 * 8 * 3 * 3 * 3
    assert result.params == 8 * 3 * 9 + 8
    assert result.gflops == pytest.approx(2 * result.macs / 1e9)
    with pytest.raises(ValueError, match='got'):
        model_complexity(conv, (16, ))


@pytest.mark.parametrize('name, shape, gflops, params', [
    ('nano', (416, 416), 1.08, 912_159),
    ('tiny', (416, 416), 6.45, 5_055_855),
])
def test_yolox_matches_megvii_readme(name, shape, gflops, params):
    cfg = Config.fromfile(str(REPO / 'configs' /
                              f'yolox_{name}_8xb8-300e_coco.py'))
    assert default_input_shape(cfg) == shape
    result = model_complexity(build_model(cfg), shape)
    assert result.params == params
    assert round(result.gflops, 2) == gflops


@pytest.mark.slow  # a subprocess (pytest.ini)
def test_get_flops_cli(tiny):
    proc = subprocess.run([sys.executable, str(GET_FLOPS), str(tiny.config),
                           '--shape', '96', '128'], capture_output=True,
                          text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-2000:]
    cfg = Config.fromfile(str(tiny.config))
    expected = model_complexity(build_model(cfg), (96, 128))
    assert 'input 1x3x96x128' in proc.stdout
    assert f'GFLOPs (2 x multiply-adds, the paper\'s unit): ' \
        f'{expected.gflops:.2f}' in proc.stdout
    assert f'parameters: {expected.params:,}' in proc.stdout
