""":mod:`yolox_mm.utils.megvii_checkpoint` and its CLI
``tools/model_converters/yolox_to_yolox_mm.py`` on Megvii state_dicts
(yolox-datamint 0.3.1 models, all six scales) and on bad inputs.

The numerical equivalence of converted weights is checked in
``test_forward.py``; here: key rules, scale detection, the command line and
the error messages.
"""
import subprocess
import sys

import pytest
import torch

from yolox_mm.utils import megvii_checkpoint as conv
from .builders import REPO, SCALES, build_ours
from .megvii import build_megvii

SCRIPT = REPO / 'tools' / 'model_converters' / 'yolox_to_yolox_mm.py'


@pytest.mark.parametrize('megvii_key, ours_key', [
    ('backbone.backbone.stem.conv.conv.weight',
     'backbone.stem.conv.conv.weight'),
    ('backbone.backbone.dark2.0.conv.weight', 'backbone.stage1.0.conv.weight'),
    ('backbone.backbone.dark2.0.dconv.bn.running_var',
     'backbone.stage1.0.depthwise_conv.bn.running_var'),
    ('backbone.backbone.dark3.1.conv1.bn.bias',
     'backbone.stage2.1.main_conv.bn.bias'),
    ('backbone.backbone.dark4.1.conv2.conv.weight',
     'backbone.stage3.1.short_conv.conv.weight'),
    ('backbone.backbone.dark4.1.conv3.bn.num_batches_tracked',
     'backbone.stage3.1.final_conv.bn.num_batches_tracked'),
    ('backbone.backbone.dark3.1.m.11.conv2.pconv.conv.weight',
     'backbone.stage2.1.blocks.11.conv2.pointwise_conv.conv.weight'),
    ('backbone.backbone.dark5.1.conv1.conv.weight',  # SPP: names kept
     'backbone.stage4.1.conv1.conv.weight'),
    ('backbone.backbone.dark5.1.conv2.bn.weight',
     'backbone.stage4.1.conv2.bn.weight'),
    ('backbone.backbone.dark5.2.conv1.conv.weight',  # CSP after SPP
     'backbone.stage4.2.main_conv.conv.weight'),
    ('backbone.backbone.dark5.2.m.3.conv1.bn.weight',
     'backbone.stage4.2.blocks.3.conv1.bn.weight'),
    ('backbone.lateral_conv0.conv.weight',
     'neck.reduce_layers.0.conv.weight'),
    ('backbone.reduce_conv1.bn.bias', 'neck.reduce_layers.1.bn.bias'),
    ('backbone.C3_p4.m.1.conv1.conv.weight',
     'neck.top_down_blocks.0.blocks.1.conv1.conv.weight'),
    ('backbone.C3_p3.conv3.conv.weight',
     'neck.top_down_blocks.1.final_conv.conv.weight'),
    ('backbone.bu_conv2.dconv.conv.weight',
     'neck.downsamples.0.depthwise_conv.conv.weight'),
    ('backbone.bu_conv1.conv.weight', 'neck.downsamples.1.conv.weight'),
    ('backbone.C3_n3.conv2.bn.weight',
     'neck.bottom_up_blocks.0.short_conv.bn.weight'),
    ('backbone.C3_n4.m.0.conv2.conv.weight',
     'neck.bottom_up_blocks.1.blocks.0.conv2.conv.weight'),
    ('head.stems.2.conv.weight', 'neck.out_convs.2.conv.weight'),
    ('head.cls_convs.0.1.pconv.bn.bias',
     'bbox_head.multi_level_cls_convs.0.1.pointwise_conv.bn.bias'),
    ('head.reg_convs.1.0.conv.weight',
     'bbox_head.multi_level_reg_convs.1.0.conv.weight'),
    ('head.cls_preds.0.bias', 'bbox_head.multi_level_conv_cls.0.bias'),
    ('head.reg_preds.1.weight', 'bbox_head.multi_level_conv_reg.1.weight'),
    ('head.obj_preds.2.bias', 'bbox_head.multi_level_conv_obj.2.bias'),
])
def test_convert_key(megvii_key, ours_key):
    assert conv.convert_key(megvii_key) == ours_key


@pytest.mark.parametrize('key', ['head.grids.0', 'backbone.backbone.dark6.0'
                                 '.conv.weight', 'backbone.C3_p4.m.x.conv1',
                                 'neck.out_convs.0.conv.weight'])
def test_convert_key_rejects_foreign_keys(key):
    with pytest.raises(KeyError):
        conv.convert_key(key)


@pytest.mark.parametrize('scale', SCALES)
def test_converted_keys_are_ours(scale, megvii):
    """Every scale: scale detected from the widths, converted keys and
    shapes equal our model's state_dict (strict load)."""
    state_dict = build_megvii(scale).state_dict()
    info = conv.detect_scale(state_dict)
    assert info.name == scale
    assert info.stem_channels == {'nano': 16, 'tiny': 24, 's': 32, 'm': 48,
                                  'l': 64, 'x': 80}[scale]
    assert info.num_classes == 80
    converted = conv.convert_state_dict(state_dict, scale)
    ours = build_ours(scale).state_dict()
    assert list(converted) != list(state_dict)
    assert set(converted) == set(ours)
    assert all(converted[k].shape == ours[k].shape for k in ours)
    assert all(converted[k] is v
               for k, v in zip(converted, state_dict.values()))


@pytest.fixture(scope='module')
def nano_state_dict(megvii):
    return build_megvii('nano').state_dict()


def test_script_converts_training_checkpoint(tmp_path, nano_state_dict):
    """Run as a script on ``{'model': ..., 'start_epoch': ...}``; the output
    is mmengine's checkpoint format and loads into our model strictly."""
    from mmengine.runner import load_checkpoint
    src, dst = tmp_path / 'yolox_nano.pth', tmp_path / 'nano_mm.pth'
    torch.save({'start_epoch': 300, 'model': nano_state_dict,
                'optimizer': {}, 'best_ap': 25.8}, src)
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), str(src), str(dst), '--scale', 'nano'],
        capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert 'YOLOX-nano' in proc.stdout
    checkpoint = torch.load(dst, weights_only=True)
    assert set(checkpoint) == {'meta', 'state_dict'}
    meta = checkpoint['meta']
    assert meta['scale'] == 'nano' and meta['num_classes'] == 80
    assert meta['source'] == str(src)
    assert meta['converter'].endswith('yolox_to_yolox_mm.py')
    model = build_ours('nano')
    load_checkpoint(model, str(dst), strict=True)
    for key, value in conv.convert_state_dict(nano_state_dict).items():
        assert torch.equal(model.state_dict()[key], value), key


def test_bare_state_dict_and_ddp_prefix(tmp_path, nano_state_dict):
    src, dst = tmp_path / 'bare.pth', tmp_path / 'out.pth'
    torch.save({f'module.{k}': v for k, v in nano_state_dict.items()}, src)
    checkpoint = conv.convert_checkpoint(str(src), str(dst))
    assert checkpoint['meta']['scale'] == 'nano'
    assert set(checkpoint['state_dict']) == set(
        conv.convert_state_dict(nano_state_dict))


def test_not_a_yolox_checkpoint(tmp_path):
    src = tmp_path / 'resnet.pth'
    torch.save({'state_dict': {'conv1.weight': torch.zeros(1),
                               'fc.bias': torch.zeros(1)}}, src)
    with pytest.raises(ValueError,
                       match=r"expected a Megvii YOLOX checkpoint with "
                       r"'backbone\.backbone\.\*' keys.*\['state_dict'\]"):
        conv.convert_checkpoint(str(src), str(tmp_path / 'out.pth'))


def test_mmdet_checkpoint_is_pointed_out(tmp_path):
    src = tmp_path / 'mmdet_yolox.pth'
    torch.save({'meta': {}, 'state_dict': {
        'backbone.stem.conv.conv.weight': torch.zeros(1)}}, src)
    with pytest.raises(ValueError, match='without conversion') as err:
        conv.convert_checkpoint(str(src), str(tmp_path / 'out.pth'))
    assert 'backbone.stem.conv.conv.weight' in str(err.value)


def test_scale_mismatch_names_both_scales(nano_state_dict):
    with pytest.raises(ValueError, match=r"requested scale 's' expects stem "
                       r'width 32.*the checkpoint is nano \(stem width 16'):
        conv.convert_state_dict(nano_state_dict, 's')
    with pytest.raises(ValueError, match='scale must be one of'):
        conv.convert_state_dict(nano_state_dict, 'huge')


def test_script_reports_scale_mismatch(tmp_path, nano_state_dict):
    src = tmp_path / 'nano.pth'
    torch.save({'model': nano_state_dict}, src)
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), str(src), str(tmp_path / 'o.pth'),
         '--scale', 'tiny'], capture_output=True, text=True)
    assert proc.returncode != 0
    assert "requested scale 'tiny'" in proc.stderr
    assert 'the checkpoint is nano' in proc.stderr
    assert not (tmp_path / 'o.pth').exists()


def test_unknown_keys_are_listed(nano_state_dict):
    state_dict = dict(nano_state_dict)
    state_dict['head.extra.0.weight'] = torch.zeros(1)
    with pytest.raises(ValueError, match=r"1 keys are not part.*"
                       r"head\.extra\.0\.weight"):
        conv.convert_state_dict(state_dict)


def test_custom_width_is_not_a_published_scale(nano_state_dict):
    state_dict = dict(nano_state_dict)
    state_dict[conv.STEM_KEY] = torch.zeros(20, 12, 3, 3)
    info = conv.detect_scale(state_dict)
    assert info.name is None and info.stem_channels == 20
    assert 'no published scale' in info.describe()
