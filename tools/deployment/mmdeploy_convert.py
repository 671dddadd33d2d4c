"""Convert a yolox_mm detector with mmdeploy 1.3.1 and check the result.

One command, without a checkout of mmdeploy (its wheel ships neither
``tools/deploy.py`` nor its configs; ours are in ``configs/deploy/``)::

    python tools/deployment/mmdeploy_convert.py \\
        configs/deploy/detection_onnxruntime_static.py \\
        configs/yolox_nano_1xb4-200e_deepforest.py epoch_200.pth \\
        data/deepforest/images/OSBS_029_x0_y0.png \\
        --work-dir work_dirs/mmdeploy

Steps:

1. ``mmdeploy.apis.torch2onnx`` writes ``<work-dir>/end2end.onnx``; the
   deploy config loads our rewriters
   (``module=['yolox_mm.deploy.mmdeploy_rewriters']``; the tool also
   registers them itself).
   For onnxruntime that file is the backend model; for TensorRT, build the
   engine from it with mmdeploy's ``to_backend`` on a GPU machine.
2. Unless ``--no-verify``: the image goes through the model's test pipeline
   and data preprocessor; onnxruntime runs ``end2end.onnx`` on that tensor
   and PyTorch runs ``model.predict(..., rescale=False)`` on it. Both lists
   of detections (boxes ``xyxy`` in input pixels) are compared: count,
   labels, largest box difference in pixels. mmdeploy pads ``dets`` with
   rows of score 0, which are dropped first.
   The graph takes ``score_thr``, the NMS IoU and ``max_per_img`` from the
   model's ``test_cfg`` (mmdeploy's rule for YOLOX), but ``pre_top_k`` and
   ``max_output_boxes_per_class`` from the deploy config: where those cut
   (more than 5000 priors above ``score_thr``, or more than 300 boxes of
   one class), the check reports the difference.

Exit status 1 if the two disagree (different counts or labels, or a box
more than ``--atol`` px apart).
"""
import os.path as osp
import sys
import time
import warnings
from argparse import ArgumentParser

import numpy as np
import torch


def parse_args():
    parser = ArgumentParser(
        description='yolox_mm -> mmdeploy end2end.onnx, checked against '
        'PyTorch in onnxruntime')
    parser.add_argument('deploy_cfg', help='Deploy config, e.g. '
                        'configs/deploy/detection_onnxruntime_static.py')
    parser.add_argument('model_cfg', help='Model config file.')
    parser.add_argument('checkpoint', help='Checkpoint file.')
    parser.add_argument('img', help='Image used for tracing and checking.')
    parser.add_argument('--work-dir', default='work_dirs/mmdeploy',
                        help='Output folder (end2end.onnx).')
    parser.add_argument('--no-verify', action='store_true',
                        help='Skip the onnxruntime vs PyTorch check.')
    parser.add_argument('--atol', type=float, default=1e-3,
                        help='Largest box difference (input pixels) that '
                        'passes the check. Default 1e-3.')
    return parser.parse_args()


def preprocess(model, img_file):
    """``(inputs [1, 3, H, W] float, data_samples)`` of the model's test
    pipeline and data preprocessor, annotations left out."""
    from mmcv.transforms import Compose
    from mmengine.registry import init_default_scope
    init_default_scope(model.cfg.get('default_scope', 'yolox_mm'))
    steps = [t for t in model.cfg.test_pipeline
             if t['type'] not in ('LoadAnnotations', 'mmdet.LoadAnnotations')]
    data = Compose(steps)(dict(img_path=img_file, img_id=0))
    batch = model.data_preprocessor(
        dict(inputs=[data['inputs']], data_samples=[data['data_samples']]),
        False)
    return batch['inputs'], batch['data_samples']


def compare(onnx_file, model, img_file, atol):
    """Print and return whether onnxruntime and PyTorch agree on
    ``img_file``."""
    import onnxruntime as ort
    inputs, data_samples = preprocess(model, img_file)
    with torch.no_grad():
        ref = model.predict(inputs, data_samples,
                            rescale=False)[0].pred_instances
    session = ort.InferenceSession(onnx_file,
                                   providers=['CPUExecutionProvider'])
    dets, labels = session.run(None, {'input': inputs.numpy()})
    keep = dets[0, :, 4] > 0  # mmdeploy pads with score-0 rows
    dets, labels = dets[0][keep], labels[0][keep]
    boxes, ref_labels = ref.bboxes.numpy(), ref.labels.numpy()
    print(f'check on {osp.basename(img_file)} (input '
          f'{list(inputs.shape)}): onnxruntime {len(dets)} detections, '
          f'PyTorch {len(boxes)}')
    if len(dets) != len(boxes):
        print('  FAIL: different numbers of detections')
        return False
    if len(dets) == 0:
        return True
    # pair each PyTorch box with the nearest ONNX one (equal scores may
    # come out of NMS in another order)
    diff = np.abs(dets[:, None, :4] - boxes[None]).max(-1)  # [K, K]
    match = diff.argmin(axis=0)
    worst = float(diff[match, np.arange(len(boxes))].max())
    paired = len(set(match.tolist())) == len(boxes)
    same_labels = paired and bool((labels[match] == ref_labels).all())
    print(f'  largest box difference {worst:.2e} px, labels '
          f'{"equal" if same_labels else "DIFFER"}, score range '
          f'{dets[:, 4].min():.3f}-{dets[:, 4].max():.3f}')
    return paired and same_labels and worst <= atol


def main():
    args = parse_args()
    warnings.filterwarnings('ignore', category=torch.jit.TracerWarning)
    warnings.filterwarnings('ignore', category=DeprecationWarning)
    from yolox_mm.utils import install_safe_checkpoint_loading
    install_safe_checkpoint_loading()  # weights-only checkpoints
    from yolox_mm.deploy import register_mmdeploy_rewriters
    register_mmdeploy_rewriters()  # also for a config without `module`
    from mmdeploy.apis import torch2onnx

    start = time.perf_counter()
    torch2onnx(args.img, args.work_dir, 'end2end.onnx', args.deploy_cfg,
               args.model_cfg, args.checkpoint, device='cpu')
    onnx_file = osp.join(args.work_dir, 'end2end.onnx')
    print(f'{args.model_cfg} ({osp.basename(args.checkpoint)}) -> '
          f'{onnx_file} ({osp.getsize(onnx_file) / 2**20:.1f} MiB) in '
          f'{time.perf_counter() - start:.1f} s with '
          f'{osp.basename(args.deploy_cfg)}')
    if args.no_verify:
        return
    from mmdet.apis import init_detector
    model = init_detector(args.model_cfg, args.checkpoint, device='cpu')
    if not compare(onnx_file, model, args.img, args.atol):
        sys.exit(1)


if __name__ == '__main__':
    main()
