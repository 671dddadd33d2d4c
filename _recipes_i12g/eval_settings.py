"""Evaluate checkpoints of the tree config under several test-time
settings (test scale, NMS IoU, max boxes) in one process: the same Runner
test loop and CocoMetric as tools/test.py (scratch script for issue 12
item 3; not to be merged as is).

Usage: PYTHONPATH=$PWD OMP_NUM_THREADS=1 python \
    _recipes_i12g/eval_settings.py CKPT [CKPT ...] --scales 416 512
"""
import argparse

from mmengine.runner import Runner

from yolox_mm.utils.launch import read_config


def evaluate(cfg_path, ckpt, scale, nms_iou, split='val'):
    cfg = read_config(cfg_path)
    cfg.work_dir = '/tmp/i12g_eval'
    cfg.log_level = 'WARNING'
    cfg.load_from = ckpt
    ann = f'annotations/{split}.json'
    cfg.test_dataloader.dataset.ann_file = ann
    cfg.test_evaluator.ann_file = cfg.data_root + ann
    pipe = cfg.test_dataloader.dataset.pipeline
    resize = [t for t in pipe if t.type == 'Resize'][0]
    resize.scale = (scale, scale)
    if nms_iou is not None:
        cfg.model.test_cfg.nms.iou_threshold = nms_iou
    runner = Runner.from_cfg(cfg)
    return runner.test()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('ckpts', nargs='+')
    parser.add_argument('--config',
                        default='configs/yolox_nano_1xb4-200e_deepforest.py')
    parser.add_argument('--scales', type=int, nargs='+', default=[416])
    parser.add_argument('--split', default='val')
    parser.add_argument('--nms-ious', type=float, nargs='+', default=[None])
    args = parser.parse_args()
    for ckpt in args.ckpts:
        for scale in args.scales:
            for iou in args.nms_ious:
                m = evaluate(args.config, ckpt, scale, iou, args.split)
                print(f'RESULT {args.split} {ckpt} scale {scale} nms_iou {iou}: '
                      f'mAP {m["coco/bbox_mAP"]:.3f} '
                      f'mAP50 {m["coco/bbox_mAP_50"]:.3f}', flush=True)


if __name__ == '__main__':
    main()
