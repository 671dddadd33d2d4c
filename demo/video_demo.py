"""Detect objects in every frame of a video file or a webcam and draw them
(mmdet's ``demo/video_demo.py`` and ``webcam_demo.py``; frames read with
``cv2.VideoCapture``)::

    python demo/video_demo.py VIDEO_OR_CAMERA_INDEX CONFIG CHECKPOINT \\
        [--out drawn.mp4] [--show] [--score-thr 0.3] [--max-frames N]

``VIDEO_OR_CAMERA_INDEX``: a video file, or ``0`` for the first webcam.
``--out`` writes the drawn frames (mp4v, the source's frame rate);
``--show`` displays them (press q or Esc to stop). Prints the number of
frames and detections.
"""
import argparse
import os.path as osp
import sys

import torch

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..'))


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('source', help='video file or camera index')
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--out', help='write the drawn video here (.mp4)')
    parser.add_argument('--show', action='store_true',
                        help='display the drawn frames')
    parser.add_argument('--score-thr', type=float, default=0.3,
                        help='draw detections with score >= this')
    parser.add_argument('--max-frames', type=int, default=None,
                        help='stop after this many frames')
    parser.add_argument(
        '--device', default='cuda:0' if torch.cuda.is_available() else 'cpu',
        help='device, e.g. cpu or cuda:0')
    return parser.parse_args()


def main():
    args = parse_args()
    if not (args.out or args.show):
        sys.exit('video_demo: give --out FILE and/or --show')
    from yolox_mm.utils import install_safe_checkpoint_loading
    install_safe_checkpoint_loading()  # weights-only checkpoints
    import cv2
    from mmdet.apis import init_detector

    from yolox_mm.analysis.video import detect_video

    def show(frame):
        cv2.imshow('yolox_mm', frame)
        return cv2.waitKey(1) & 0xFF in (ord('q'), 27)

    model = init_detector(args.config, args.checkpoint, device=args.device)
    try:
        summary = detect_video(model, args.source, args.out, args.score_thr,
                               args.max_frames,
                               on_frame=show if args.show else None)
    except (FileNotFoundError, RuntimeError) as e:
        sys.exit(f'video_demo: {e}')
    total = sum(summary.detections)
    print(f'{summary.frames} frames ({summary.size[0]}x{summary.size[1]}, '
          f'{summary.fps:g} fps): {total} detections with score >= '
          f'{args.score_thr}' + (f'; saved {args.out}' if args.out else ''))


if __name__ == '__main__':
    main()
