"""Export a yolox_mm detector (any scale, our checkpoints or converted
official ones) to ONNX with box decoding and NMS inside the graph.

Example::

    python tools/deployment/export_onnx.py \\
        configs/yolox_nano_1xb4-200e_deepforest.py epoch_200.pth \\
        --out tree.onnx --input-shape 416 416 --dynamic

Graph (see ``yolox_mm/deploy/onnx_export.py``): ``input`` float32
``[B, 3, H, W]`` BGR 0-255, letterboxed (keep-ratio resize, pad 114
bottom/right) -> ``dets`` float32 ``[B, K, 5]`` (x1, y1, x2, y2 in input
pixels, score) and ``labels`` int64 ``[B, K]``, ``K = --max-det``, padding
rows ``dets = 0``, ``labels = -1``. Run it with ``demo/onnx_demo.py``.
"""
import json
import os.path as osp
import time
import warnings
from argparse import ArgumentParser

import torch
from mmdet.apis import init_detector
from mmengine.config import DictAction


def parse_args():
    parser = ArgumentParser(description='YOLOX -> ONNX with NMS in the graph')
    parser.add_argument('config', help='Model config file.')
    parser.add_argument('checkpoint', help='Checkpoint file.')
    parser.add_argument('--out', required=True, help='Output .onnx file.')
    parser.add_argument('--input-shape', type=int, nargs=2,
                        default=[416, 416], metavar=('H', 'W'),
                        help='Input size, multiples of 32 (traced size; '
                        'fixed unless --dynamic). Defaults to 416 416; use '
                        'the test size of the config (640 for s/m/l/x).')
    parser.add_argument('--batch', type=int, default=1,
                        help='Batch size (fixed unless --dynamic).')
    parser.add_argument('--dynamic', action='store_true',
                        help='Dynamic batch, height and width.')
    parser.add_argument('--score-thr', type=float, default=None,
                        help='Defaults to the config test_cfg.score_thr.')
    parser.add_argument('--iou-thr', type=float, default=None,
                        help='Defaults to test_cfg.nms.iou_threshold.')
    parser.add_argument('--max-det', type=int, default=None,
                        help='Detections per image K. Defaults to '
                        'test_cfg.max_per_img, else 100.')
    parser.add_argument('--opset', type=int, default=11,
                        help='ONNX opset, >= 11. Defaults to 11.')
    parser.add_argument('--verify', action='store_true',
                        help='Run the graph in onnxruntime and PyTorch on a '
                        'random input and report the largest difference.')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='Override config settings, key=value.')
    return parser.parse_args()


def verify(wrapper, out_file, shape):
    import numpy as np
    import onnxruntime as ort
    torch.manual_seed(0)
    images = torch.rand(shape) * 255
    with torch.no_grad():
        dets, labels = (t.numpy() for t in wrapper(images))
    session = ort.InferenceSession(out_file,
                                   providers=['CPUExecutionProvider'])
    ort_dets, ort_labels = session.run(None, {'input': images.numpy()})
    same_labels = bool((labels == ort_labels).all())
    diff = np.abs(dets - ort_dets).max()
    scale = max(np.abs(dets).max(), 1.0)
    print(f'verify (random input {list(shape)}): onnxruntime vs PyTorch, '
          f'{(labels >= 0).sum()} detections, max |dets| difference '
          f'{diff:.2e} ({diff / scale:.1e} of the largest value), labels '
          f'{"equal" if same_labels else "DIFFER"}')


def main():
    args = parse_args()
    # the TorchScript exporter warns about the shape checks it freezes
    # (Focus's even-size check) and about being the legacy exporter
    warnings.filterwarnings('ignore', category=torch.jit.TracerWarning)
    warnings.filterwarnings('ignore', category=DeprecationWarning)
    warnings.filterwarnings('ignore', message='.*meshgrid.*')
    warnings.filterwarnings('ignore', message='.*advanced indexing.*')

    from yolox_mm.utils import install_safe_checkpoint_loading
    install_safe_checkpoint_loading()  # weights-only checkpoints
    from yolox_mm.deploy.onnx_export import YOLOXONNXWrapper, export_onnx
    model = init_detector(args.config, args.checkpoint, device='cpu',
                          cfg_options=args.cfg_options)
    start = time.perf_counter()
    export_onnx(model, args.out, args.input_shape, args.batch, args.dynamic,
                args.score_thr, args.iou_thr, args.max_det, args.opset)
    seconds = time.perf_counter() - start

    import onnx
    graph = onnx.load(args.out)
    meta = {p.key: p.value for p in graph.metadata_props}

    def dims(value):
        return '[' + ', '.join(
            str(d.dim_value or d.dim_param)
            for d in value.type.tensor_type.shape.dim) + ']'

    inp, dets, labels = graph.graph.input[0], *graph.graph.output
    print(f'{args.config} ({osp.basename(args.checkpoint)}) -> {args.out} '
          f'({osp.getsize(args.out) / 2**20:.1f} MiB, opset '
          f'{graph.opset_import[0].version}) in {seconds:.1f} s')
    print(f'  input  {dims(inp)} float32, BGR 0-255, letterboxed '
          '(keep-ratio resize, pad 114 bottom/right)')
    print(f'  dets {dims(dets)} float32: x1, y1, x2, y2 (input pixels), '
          'score; padding rows 0')
    print(f'  labels {dims(labels)} int64; padding -1')
    classes = json.loads(meta['classes'])
    post = (f'NMS in graph: score_thr {meta["score_thr"]}, iou_thr '
            f'{meta["iou_thr"]}' if meta.get('postprocess') == 'NMS' else
            f'end-to-end, no NMS: score_thr {meta["score_thr"]}')
    print(f'  {post}, max_det {meta["max_det"]}; {len(classes)} '
          f'classes: {", ".join(classes[:5])}'
          + (', ...' if len(classes) > 5 else ''))
    if args.verify:
        wrapper = YOLOXONNXWrapper(model, args.score_thr, args.iou_thr,
                                   args.max_det).eval()
        verify(wrapper, args.out, (args.batch, 3, *args.input_shape))


if __name__ == '__main__':
    main()
