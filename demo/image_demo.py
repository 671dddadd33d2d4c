"""Detect objects in images with a yolox_mm model and draw them (boxes,
class names, scores) with mmdet's ``DetLocalVisualizer``.

The interface of mmdet's ``demo/image_demo.py``::

    python demo/image_demo.py data/deepforest/images \\
        configs/yolox_nano_1xb4-200e_deepforest.py \\
        --weights work_dirs/yolox_nano_1xb4-200e_deepforest/epoch_200.pth \\
        --out-dir outputs --pred-score-thr 0.3

Writes ``OUT_DIR/vis/<image name>`` and, unless ``--no-save-pred``,
``OUT_DIR/preds/<image stem>.json`` (``labels``, ``scores``, ``bboxes`` xyxy
in original-image pixels, all detections above the model's
``test_cfg.score_thr``). Weights: checkpoints of ``tools/train.py`` (class
names from their ``meta``), mmdet 3.x YOLOX checkpoints and official
weights converted by ``tools/model_converters/yolox_to_yolox_mm.py`` (COCO
class names when the checkpoint has none).
"""
import os
import os.path as osp
from argparse import ArgumentParser

import torch
from mmdet.apis import DetInferencer
from mmengine.config import Config

IMAGE_EXTS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')


def parse_args():
    parser = ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('inputs', help='Image file or folder.')
    parser.add_argument('model', help='Config file.')
    parser.add_argument('--weights', default=None, help='Checkpoint file.')
    parser.add_argument('--out-dir', default='outputs',
                        help='Output folder (vis/ and preds/ inside).')
    parser.add_argument(
        '--device',
        default='cuda:0' if torch.cuda.is_available() else 'cpu',
        help='Device, e.g. cpu or cuda:0. Defaults to cuda:0 when CUDA is '
        'available, else cpu.')
    parser.add_argument('--pred-score-thr', type=float, default=0.3,
                        help='Draw detections with score >= this.')
    parser.add_argument('--batch-size', type=int, default=1,
                        help='Images per forward pass.')
    parser.add_argument('--show', action='store_true',
                        help='Also display each image in a window.')
    parser.add_argument('--no-save-vis', action='store_true',
                        help='Do not write the drawn images.')
    parser.add_argument('--no-save-pred', action='store_true',
                        help='Do not write the predictions as JSON.')
    parser.add_argument('--print-result', action='store_true',
                        help='Print the raw predictions.')
    parser.add_argument(
        '--palette',
        default='none',
        choices=['coco', 'voc', 'citys', 'random', 'none'],
        help='Box colours; none: the dataset palette of the checkpoint, '
        'else random.')
    return parser.parse_args()


def list_images(inputs: str):
    if osp.isdir(inputs):
        files = sorted(osp.join(inputs, f) for f in os.listdir(inputs)
                       if f.lower().endswith(IMAGE_EXTS))
        if not files:
            raise FileNotFoundError(f'no image ({", ".join(IMAGE_EXTS)}) in '
                                    f'{inputs}')
        return files
    if not osp.isfile(inputs):
        raise FileNotFoundError(f'{inputs} is neither a file nor a folder')
    return [inputs]


class YOLOXDemoInferencer(DetInferencer):
    """mmdet's inferencer drawing boxes clipped to the image.

    Predicted boxes may extend past the image. Drawn unclipped with
    matplotlib >= 3.11, whose ``add_collection`` also rescales the view to
    the boxes (matplotlib PR #29958), mmengine 0.10.7 returns the image
    shrunk and shifted under white margins; a barely trained model's boxes,
    off by orders of magnitude, even make matplotlib fail
    (``FT_Render_Glyph ... raster overflow``). The JSON predictions stay
    unclipped, as mmdet's."""

    def visualize(self, inputs, preds, **kwargs):
        clipped = []
        for pred in preds:
            height, width = pred.ori_shape[:2]
            instances = pred.pred_instances.clone()  # shallow: new fields
            bboxes = instances.bboxes.clone()
            bboxes[:, 0::2] = bboxes[:, 0::2].clamp(0, width)
            bboxes[:, 1::2] = bboxes[:, 1::2].clamp(0, height)
            instances.bboxes = bboxes
            pred = pred.clone()
            pred.pred_instances = instances
            clipped.append(pred)
        return super().visualize(inputs, clipped, **kwargs)


def main():
    args = parse_args()
    files = list_images(args.inputs)
    # weights-only loading of Runner checkpoints (HistoryBuffer in their
    # message hub), as tools/test.py
    from yolox_mm.utils import install_safe_checkpoint_loading
    install_safe_checkpoint_loading()
    # the config's default_scope ('yolox_mm') so that unprefixed types
    # resolve in yolox_mm, then mmdet; its custom_imports load yolox_mm
    scope = Config.fromfile(args.model).get('default_scope', 'mmdet')
    inferencer = YOLOXDemoInferencer(model=args.model, weights=args.weights,
                                     device=args.device, scope=scope,
                                     palette=args.palette,
                                     show_progress=False)
    results = inferencer(
        files,
        batch_size=args.batch_size,
        pred_score_thr=args.pred_score_thr,
        show=args.show,
        no_save_vis=args.no_save_vis,
        no_save_pred=args.no_save_pred,
        print_result=args.print_result,
        out_dir=args.out_dir)
    classes = inferencer.model.dataset_meta.get('classes', ())
    for path, pred in zip(files, results['predictions']):
        kept = [(s, label) for s, label in zip(pred['scores'], pred['labels'])
                if s >= args.pred_score_thr]
        counts = {}
        for _, label in kept:
            name = classes[label] if label < len(classes) else str(label)
            counts[name] = counts.get(name, 0) + 1
        summary = ', '.join(f'{n} {name}' for name, n in counts.items())
        print(f'{osp.basename(path)}: {len(kept)} detections with score >= '
              f'{args.pred_score_thr}' + (f' ({summary})' if kept else ''))
    saved = [f'{args.out_dir}/{d}' for d, off in (('vis', args.no_save_vis),
                                                   ('preds',
                                                    args.no_save_pred))
             if not off]
    if saved:
        print(f'results in {" and ".join(saved)}')


if __name__ == '__main__':
    main()
