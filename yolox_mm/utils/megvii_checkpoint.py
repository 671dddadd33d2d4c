"""Megvii YOLOX checkpoints -> yolox_mm (key map, scale detection, file
conversion); the CLI is ``tools/model_converters/yolox_to_yolox_mm.py``::

    python tools/model_converters/yolox_to_yolox_mm.py SRC DST [--scale S]

``SRC`` is a checkpoint of Megvii's YOLOX (``Megvii-BaseDetection/YOLOX``,
e.g. the released ``yolox_s.pth``): a dict with the weights under
``'model'`` (training checkpoints also hold ``start_epoch``, ``optimizer``,
...; only ``'model'``, the EMA weights, is read), or a bare state_dict.
``DST`` is written in mmengine's format ``{'meta': {...}, 'state_dict':
...}`` and loads with ``load_from=DST`` or ``tools/test.py CONFIG DST``.
``meta`` records the source file, this converter, the scale detected from
the weights and the number of classes.

All six published scales (nano, tiny, s, m, l, x) are handled, and any
other width/depth of the same architecture, and YOLOX-DarkNet53 (Megvii
``exps/default/yolov3.py``, ``yolox_darknet.pth``). Rules (Megvii's names
from ``yolox/models/{darknet,yolo_pafpn,yolo_head,network_blocks}.py``,
mmdet's from ``mmdet/models/{backbones/csp_darknet,necks/yolox_pafpn,
dense_heads/yolox_head,layers/csp_layer}.py``; ``.K.`` is any bottleneck
index)::

    backbone.backbone.stem.*              -> backbone.stem.*
    backbone.backbone.dark{i+1}.*         -> backbone.stage{i}.*  (i = 1..4)
    CSP layer  conv1 / conv2 / conv3      -> main_conv / short_conv /
                                             final_conv
    CSP layer  m.K.                       -> blocks.K. (inner conv1/2 kept)
    SPP        conv1 / conv2              -> kept      (backbone.stage4.1)
    DWConv     dconv / pconv (nano)       -> depthwise_conv / pointwise_conv
    backbone.lateral_conv0 / reduce_conv1 -> neck.reduce_layers.0 / .1
    backbone.C3_p4 / C3_p3                -> neck.top_down_blocks.0 / .1
    backbone.bu_conv2 / bu_conv1          -> neck.downsamples.0 / .1
    backbone.C3_n3 / C3_n4                -> neck.bottom_up_blocks.0 / .1
    head.stems.L                          -> neck.out_convs.L
    DarkNet53 only (Darknet + YOLOFPN; stage indices kept):
    ResLayer   layer1 / layer2            -> conv1 / conv2
    backbone.out1_cbl / out2_cbl          -> neck.lateral_convs.0 / .1
    backbone.out1 / out2                  -> neck.detect_blocks.0 / .1
    head.cls_convs.L / reg_convs.L        -> bbox_head.multi_level_cls_convs.L
                                             / multi_level_reg_convs.L
    head.cls_preds.L / reg_preds.L / obj_preds.L
                                          -> bbox_head.multi_level_conv_cls.L
                                             / conv_reg.L / conv_obj.L

Leaves (``conv.weight``, ``bn.{weight, bias, running_mean, running_var,
num_batches_tracked}``, prediction ``weight``/``bias``) are unchanged, and
so are the tensors: same BN settings (eps 1e-3, momentum 0.03) and the
same input convention (BGR, 0-255, no normalisation, letterbox pad 114) as
the published weights. The output is verified key for key and numerically
(raw head outputs and detections) against yolox-datamint 0.3.1 (Megvii's
code) at all six scales in ``tests/test_parity``.

**mmdet 3.x checkpoints need no conversion**: yolox_mm's module names are
mmdet 3.3.0's (``backbone.stage*``, ``neck.*``, ``bbox_head.multi_level_*``,
``depthwise_conv``/``pointwise_conv``), so the ``state_dict`` of an mmdet
YOLOX checkpoint of the same scale loads into the yolox_mm model unchanged
(tested: identical key sets and shapes at all six scales, identical
outputs). Pass it directly: ``tools/test.py CONFIG mmdet_yolox_s.pth``.

Public functions: :func:`convert_key`, :func:`convert_state_dict`,
:func:`detect_scale`, :func:`megvii_state_dict`,
:func:`load_checkpoint_file`, :func:`convert_checkpoint`.
"""
import os.path as osp
import pickle
import re
from collections import OrderedDict
from typing import Dict, Mapping, NamedTuple, Optional, Tuple

import torch

#: ``(widen_factor, deepen_factor, depthwise)`` of Megvii's
#: ``exps/default/yolox_*.py``.
SCALES: Dict[str, Tuple[float, float, bool]] = {
    'nano': (0.25, 0.33, True),
    'tiny': (0.375, 0.33, False),
    's': (0.50, 0.33, False),
    'm': (0.75, 0.67, False),
    'l': (1.00, 1.00, False),
    'x': (1.25, 1.33, False),
}

#: Key of the stem convolution, whose output channels are ``int(64 * w)``.
STEM_KEY = 'backbone.backbone.stem.conv.conv.weight'
#: YOLOX-DarkNet53 (Megvii ``YOLOFPN``): the name ``--scale`` gives it, the
#: key that identifies it and its first conv (32 output channels).
DARKNET = 'darknet53'
DARKNET_KEY = 'backbone.out1_cbl.conv.weight'
DARKNET_STEM_KEY = 'backbone.backbone.stem.0.conv.weight'

# Module-level renames (prefix of the Megvii key -> prefix of ours); the CSP
# flag says whether the module is a CSPLayer (conv1/2/3 and m.K renamed).
_BACKBONE_STAGE = re.compile(r'^backbone\.backbone\.dark([2-5])\.(\d+)\.')
_NECK = {
    'lateral_conv0': ('neck.reduce_layers.0', False),
    'reduce_conv1': ('neck.reduce_layers.1', False),
    'C3_p4': ('neck.top_down_blocks.0', True),
    'C3_p3': ('neck.top_down_blocks.1', True),
    'bu_conv2': ('neck.downsamples.0', False),
    'bu_conv1': ('neck.downsamples.1', False),
    'C3_n3': ('neck.bottom_up_blocks.0', True),
    'C3_n4': ('neck.bottom_up_blocks.1', True),
}
_NECK_KEY = re.compile(r'^backbone\.(' + '|'.join(_NECK) + r')\.')
_HEAD = {
    'stems': 'neck.out_convs',
    'cls_convs': 'bbox_head.multi_level_cls_convs',
    'reg_convs': 'bbox_head.multi_level_reg_convs',
    'cls_preds': 'bbox_head.multi_level_conv_cls',
    'reg_preds': 'bbox_head.multi_level_conv_reg',
    'obj_preds': 'bbox_head.multi_level_conv_obj',
}
_FPN = {
    'out1_cbl': 'neck.lateral_convs.0',
    'out2_cbl': 'neck.lateral_convs.1',
    'out1': 'neck.detect_blocks.0',
    'out2': 'neck.detect_blocks.1',
}
_FPN_KEY = re.compile(r'^backbone\.(' + '|'.join(_FPN) + r')\.')
_RES_INNER = re.compile(r'\.layer([12])\.')
_HEAD_KEY = re.compile(r'^head\.(' + '|'.join(_HEAD) + r')\.(\d+)\.')
_CSP_CONVS = {'conv1': 'main_conv', 'conv2': 'short_conv',
              'conv3': 'final_conv'}
_CSP_INNER = re.compile(r'^(conv[123])\.|^m\.(\d+)\.')


class ScaleInfo(NamedTuple):
    """Architecture read from a Megvii state_dict.

    Attributes:
        name (str or None): ``'nano'`` ... ``'x'`` when width, depth and
            depthwise flag match a published scale, else None.
        stem_channels (int): Output channels of the stem conv
            (``int(64 * widen_factor)``: 16/24/32/48/64/80 for
            nano/tiny/s/m/l/x).
        num_blocks (int): Bottlenecks in ``dark3`` (``3 * round(3 * d)``:
            3/3/3/6/9/12).
        depthwise (bool): Depthwise-separable 3x3 convs (``dconv`` keys).
        num_classes (int): Output channels of ``head.cls_preds.0``.
    """
    name: Optional[str]
    stem_channels: int
    num_blocks: int
    depthwise: bool
    num_classes: int

    def describe(self) -> str:
        arch = (f'stem width {self.stem_channels}, {self.num_blocks} '
                f"dark3 blocks, {'' if self.depthwise else 'no '}"
                'depthwise convs')
        return f'{self.name or "no published scale"} ({arch})'


def _expected(scale: str) -> Tuple[int, int, bool]:
    if scale == DARKNET:
        return 32, 8, False
    width, depth, depthwise = SCALES[scale]
    return int(64 * width), 3 * max(round(3 * depth), 1), depthwise


def _rename_csp(rest: str) -> str:
    """Rename the part of a key below a CSPLayer (``conv1.conv.weight``,
    ``m.0.conv2.dconv.bn.bias`` ...)."""
    match = _CSP_INNER.match(rest)
    if match is None:
        raise KeyError(rest)
    if match.group(1):
        return _CSP_CONVS[match.group(1)] + rest[match.end() - 1:]
    return f'blocks.{match.group(2)}' + rest[match.end() - 1:]


def convert_key(key: str) -> str:
    """Name of a Megvii YOLOX state_dict key in yolox_mm (and mmdet 3.x).

    Args:
        key (str): e.g. ``'backbone.C3_p4.m.1.conv2.dconv.bn.weight'``.

    Returns:
        str: e.g. ``'neck.top_down_blocks.0.blocks.1.conv2.depthwise_conv.
        bn.weight'``.

    Raises:
        KeyError: for a key that is not part of Megvii's YOLOX model.
    """
    if key.startswith('backbone.backbone.stem.'):
        new = 'backbone.stem.' + key[len('backbone.backbone.stem.'):]
    elif (match := _BACKBONE_STAGE.match(key)):
        dark, index = int(match.group(1)), int(match.group(2))
        prefix = f'backbone.stage{dark - 1}.{index}.'
        rest = key[match.end():]
        # dark2..4: 0 down-conv, 1 CSP; dark5: 0 down-conv, 1 SPP, 2 CSP;
        # Darknet-53: 0 down-conv, then ResLayers (layer1/2), no CSP
        is_csp = index == (2 if dark == 5 else 1) and \
            not rest.startswith('layer')
        new = prefix + (_rename_csp(rest) if is_csp else rest)
    elif (match := _FPN_KEY.match(key)):
        new = _FPN[match.group(1)] + '.' + key[match.end():]
    elif (match := _NECK_KEY.match(key)):
        prefix, is_csp = _NECK[match.group(1)]
        rest = key[match.end():]
        new = prefix + '.' + (_rename_csp(rest) if is_csp else rest)
    elif (match := _HEAD_KEY.match(key)):
        new = (f'{_HEAD[match.group(1)]}.{match.group(2)}.' +
               key[match.end():])
    else:
        raise KeyError(key)
    new = _RES_INNER.sub(lambda m: f'.conv{m.group(1)}.', new)
    return new.replace('.dconv.', '.depthwise_conv.').replace(
        '.pconv.', '.pointwise_conv.')


def _strip_module_prefix(state_dict: Mapping) -> Mapping:
    if state_dict and all(k.startswith('module.') for k in state_dict):
        return OrderedDict((k[len('module.'):], v)
                           for k, v in state_dict.items())
    return state_dict


def megvii_state_dict(checkpoint: Mapping) -> Mapping:
    """The model weights of a loaded Megvii checkpoint.

    Args:
        checkpoint (Mapping): ``torch.load`` result: ``{'model': state_dict,
            ...}`` or a bare state_dict (a ``module.`` prefix from a
            DistributedDataParallel save is removed).

    Returns:
        Mapping: the state_dict with Megvii's key names.

    Raises:
        ValueError: if there are no ``backbone.backbone.*`` keys, naming the
            first keys found (and pointing out mmdet/yolox_mm checkpoints,
            which need no conversion).
    """
    if not isinstance(checkpoint, Mapping):
        raise ValueError('expected a Megvii YOLOX checkpoint (a dict with '
                         "'model', or a state_dict), got an object of type "
                         f'{type(checkpoint).__name__}')
    state_dict = checkpoint
    if isinstance(checkpoint.get('model'), Mapping):
        state_dict = checkpoint['model']
    state_dict = _strip_module_prefix(state_dict)
    if not any(str(k).startswith('backbone.backbone.') for k in state_dict):
        found = list(checkpoint)[:8]
        inner = checkpoint.get('state_dict')
        hint = ''
        if isinstance(inner, Mapping) and any(
                str(k).startswith('backbone.stem.') for k in inner):
            hint = (" It has 'state_dict' with 'backbone.stem.*' keys, i.e. "
                    'an mmdet 3.x or yolox_mm checkpoint: these load into '
                    'yolox_mm without conversion.')
            found = list(inner)[:8]
        raise ValueError(
            'expected a Megvii YOLOX checkpoint with '
            "'backbone.backbone.*' keys (under 'model' or at the top level),"
            f' found {len(state_dict)} keys, the first ones: {found}.' + hint)
    return state_dict


def detect_scale(state_dict: Mapping) -> ScaleInfo:
    """Read the architecture of a Megvii state_dict from tensor shapes.

    Args:
        state_dict (Mapping): Megvii key names.

    Returns:
        ScaleInfo: the published scale (or None) and the measurements.

    Raises:
        ValueError: if the stem or class-prediction weights are missing.
    """
    if DARKNET_KEY in state_dict:
        return _detect_darknet(state_dict)
    for key in (STEM_KEY, 'head.cls_preds.0.weight'):
        if key not in state_dict:
            raise ValueError(f'expected the key {key!r} in a Megvii YOLOX '
                             'state_dict; it is missing')
    stem_channels = int(state_dict[STEM_KEY].shape[0])
    blocks = {int(m.group(1)) for k in state_dict
              if (m := re.match(r'backbone\.backbone\.dark3\.1\.m\.(\d+)\.',
                                k))}
    num_blocks = max(blocks) + 1 if blocks else 0
    depthwise = any('.dconv.' in k for k in state_dict)
    name = None
    for scale in SCALES:
        if _expected(scale) == (stem_channels, num_blocks, depthwise):
            name = scale
            break
    return ScaleInfo(name, stem_channels, num_blocks, depthwise,
                     int(state_dict['head.cls_preds.0.weight'].shape[0]))


def _detect_darknet(state_dict: Mapping) -> ScaleInfo:
    """:func:`detect_scale` for a YOLOX-DarkNet53 state_dict (name
    ``'darknet53'`` when the stem has 32 channels and ``dark3`` 8
    ResLayers)."""
    for key in (DARKNET_STEM_KEY, 'head.cls_preds.0.weight'):
        if key not in state_dict:
            raise ValueError(f'expected the key {key!r} in a Megvii '
                             'YOLOX-DarkNet53 state_dict; it is missing')
    stem_channels = int(state_dict[DARKNET_STEM_KEY].shape[0])
    blocks = {int(m.group(1)) for k in state_dict
              if (m := re.match(r'backbone\.backbone\.dark3\.(\d+)\.layer',
                                k))}
    num_blocks = len(blocks)
    name = DARKNET if _expected(DARKNET) == (stem_channels, num_blocks,
                                             False) else None
    return ScaleInfo(name, stem_channels, num_blocks, False,
                     int(state_dict['head.cls_preds.0.weight'].shape[0]))


def convert_state_dict(state_dict: Mapping,
                       scale: Optional[str] = None) -> 'OrderedDict':
    """Rename every key of a Megvii YOLOX state_dict (tensors untouched).

    Args:
        state_dict (Mapping): Megvii key names (see :func:`convert_key`).
        scale (str, optional): ``'nano'`` ... ``'x'`` or ``'darknet53'``;
            when given, the weights must have this scale's widths, depth
            and depthwise flag.

    Returns:
        OrderedDict: yolox_mm key names, same order and tensors.

    Raises:
        ValueError: for an unknown ``scale``, a scale mismatch (naming the
            scale detected from the widths and the one requested) or keys
            that are not part of Megvii's YOLOX (listing them).
    """
    if scale is not None:
        if scale not in SCALES and scale != DARKNET:
            raise ValueError(f'scale must be one of {list(SCALES)} or '
                             f'{DARKNET!r}, got {scale!r}')
        info = detect_scale(state_dict)
        if info.name != scale:
            stem, blocks, depthwise = _expected(scale)
            raise ValueError(
                f'requested scale {scale!r} expects stem width {stem}, '
                f"{blocks} dark3 blocks, {'' if depthwise else 'no '}"
                'depthwise convs; the checkpoint is '
                f'{info.describe()}')
    converted, unknown = OrderedDict(), []
    for key, value in state_dict.items():
        try:
            converted[convert_key(key)] = value
        except KeyError:
            unknown.append(key)
    if unknown:
        raise ValueError(f'{len(unknown)} keys are not part of a Megvii '
                         f'YOLOX model (first ones: {unknown[:8]})')
    return converted


def load_checkpoint_file(path: str, trust_source: bool = False) -> Mapping:
    """``torch.load`` on CPU, with ``weights_only`` unless
    ``trust_source`` (then arbitrary pickled objects are executed).

    Raises:
        ValueError: if the file holds objects that ``weights_only`` refuses.
    """
    try:
        return torch.load(path, map_location='cpu',
                          weights_only=not trust_source)
    except pickle.UnpicklingError as err:
        raise ValueError(
            f'{path} holds objects other than tensors and plain containers '
            'and was not loaded (torch.load weights_only=True). If you '
            'trust the file, rerun with --trust-source. Details: '
            f'{err}') from err


def convert_checkpoint(src: str, dst: str, scale: Optional[str] = None,
                       trust_source: bool = False) -> dict:
    """Convert the Megvii checkpoint file ``src`` and save it as ``dst``.

    Args:
        src (str): Megvii ``.pth`` (``{'model': ...}`` or a state_dict).
        dst (str): Output path; the checkpoint is ``{'meta': {source,
            converter, scale, num_classes}, 'state_dict': ...}``.
        scale (str, optional): Expected scale, checked (see
            :func:`convert_state_dict`).
        trust_source (bool): Allow arbitrary pickled objects in ``src``.

    Returns:
        dict: the saved checkpoint.
    """
    state_dict = megvii_state_dict(load_checkpoint_file(src, trust_source))
    info = detect_scale(state_dict)
    checkpoint = dict(
        meta=dict(
            source=osp.abspath(src),
            converter='tools/model_converters/yolox_to_yolox_mm.py',
            source_format='Megvii YOLOX',
            scale=info.name,
            stem_channels=info.stem_channels,
            depthwise=info.depthwise,
            num_classes=info.num_classes),
        state_dict=convert_state_dict(state_dict, scale))
    torch.save(checkpoint, dst)
    return checkpoint
