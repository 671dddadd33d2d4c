"""Draw the priors SimOTA makes positive for each GT box of an image, with
each GT's dynamic k (YOLOX-specific; Megvii ``tools/visualize_assign.py``)::

    python tools/analysis_tools/visualize_assign.py CONFIG CHECKPOINT \\
        [--split val] [--image NAME | --index N] --out assign.png [--scale S]

The image comes from the config's ``--split`` dataset with its GT boxes,
letterboxed by the test pipeline; the model's head and assigner run on it
as in training (eval-mode BatchNorm). In the picture each GT has its own
colour: its box, ``k=<dynamic k>`` (``(n kept)`` when conflicts with other
GTs left it fewer) and dots at its positive priors (larger dots for
coarser levels: strides 8, 16, 32); a GT without positives is red.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..', '..'))


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config', help='config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--split', default='val',
                        choices=['train', 'val', 'test'],
                        help='dataset of the config to take the image from')
    group = parser.add_mutually_exclusive_group()
    group.add_argument('--image', help='image file name in that dataset')
    group.add_argument('--index', type=int, default=0,
                       help='index in that dataset (default 0)')
    parser.add_argument('--out', required=True, help='output image')
    parser.add_argument('--scale', type=int, default=0,
                        help='enlarge the picture this many times '
                        '(default: to at least 640 px)')
    parser.add_argument('--device', default='cpu', help='e.g. cpu, cuda:0')
    return parser.parse_args()


def main():
    args = parse_args()
    from yolox_mm.utils import install_safe_checkpoint_loading
    install_safe_checkpoint_loading()  # weights-only checkpoints
    import cv2
    from mmdet.apis import init_detector

    from yolox_mm.analysis.assignment import (assignment_summary,
                                              draw_assignment,
                                              simota_assignment)
    from yolox_mm.analysis.samples import (build_dataset, find_index,
                                           load_sample)
    model = init_detector(args.config, args.checkpoint, device=args.device)
    dataset = build_dataset(model.cfg, args.split)
    try:
        index = find_index(dataset, args.image) if args.image else args.index
    except KeyError as e:
        sys.exit(f'visualize_assign: {e.args[0]}')
    if not 0 <= index < len(dataset):
        sys.exit(f'--index must be in [0, {len(dataset)}), got {index}')
    sample = load_sample(model, dataset, index)
    assignment = simota_assignment(model, sample.inputs.to(args.device),
                                   sample.gt_bboxes.to(args.device),
                                   sample.gt_labels.to(args.device))
    classes = model.dataset_meta.get('classes')
    scale = args.scale or max(1, -(-640 // max(sample.image.shape[:2])))
    picture = draw_assignment(sample.image, assignment, classes, scale)
    if not cv2.imwrite(args.out, picture):
        sys.exit(f'visualize_assign: cannot write {args.out}')
    print(f'{osp.basename(sample.img_path)} (input '
          f'{sample.image.shape[1]}x{sample.image.shape[0]}):')
    print(assignment_summary(assignment, classes))
    print(f'saved {args.out} ({picture.shape[1]}x{picture.shape[0]})')


if __name__ == '__main__':
    main()
