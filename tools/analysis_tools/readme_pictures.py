"""Write the README pictures from a finished training work dir::

    python tools/analysis_tools/readme_pictures.py \\
        work_dirs/yolox_nano_1xb4-150e_deepforest [--out-dir docs/images] \\
        [--prefix trees] [--image NAME] [--score-thr 0.3] [--labels]

(``make pictures``.) Writes ``<prefix>_detections.png`` (the last
checkpoint's detections on a validation image, boxes only unless
``--labels``, GT boxes thin white) and
``<prefix>_curves.png`` (losses and validation mAP).
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..', '..'))


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('work_dir', help='work dir of tools/train.py')
    parser.add_argument('--out-dir', default='docs/images')
    parser.add_argument('--prefix', default='trees')
    parser.add_argument('--image', default=None,
                        help='validation image file name (default: first)')
    parser.add_argument('--score-thr', type=float, default=0.3)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--labels', action='store_true',
                        help='draw class names and scores too')
    return parser.parse_args()


def main():
    args = parse_args()
    from yolox_mm.utils import install_safe_checkpoint_loading
    install_safe_checkpoint_loading()  # weights-only checkpoints
    from yolox_mm.analysis.readme_pictures import write_readme_pictures
    try:
        paths = write_readme_pictures(args.work_dir, args.out_dir,
                                      args.prefix, args.image,
                                      args.score_thr, args.device,
                                      args.labels)
    except (FileNotFoundError, KeyError) as e:
        sys.exit(f'readme_pictures: {e}')
    print(f'{paths["checkpoint"]} -> {paths["detections"]}\n'
          f'{args.work_dir} log -> {paths["curves"]}')


if __name__ == '__main__':
    main()
