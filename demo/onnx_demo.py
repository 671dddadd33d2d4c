"""Run a YOLOX ONNX file of ``tools/deployment/export_onnx.py`` with
onnxruntime, numpy and OpenCV only (no torch, no mmdet), and draw the boxes.

Example::

    python demo/onnx_demo.py data/deepforest/images/OSBS_029_x0_y0.png \\
        tree.onnx --out-dir outputs --score-thr 0.3

Writes ``OUT_DIR/vis/<image name>`` (boxes, class names, scores) and
``OUT_DIR/preds/<image stem>.json`` (``labels``, ``scores``, ``bboxes`` xyxy
in original-image pixels, clipped to the image), like ``demo/image_demo.py``.

Preprocessing is that of the yolox_mm test pipeline: keep-ratio resize that
fits the image in the network input (cv2 bilinear, sizes rounded as mmcv
does), pad with 114 at the bottom and right, BGR float 0-255, no
normalisation. For a square input size this is the test pipeline exactly
(``Resize(keep_ratio=True)`` + ``Pad(pad_to_square=True)``).
"""
import json
import os
import os.path as osp
from argparse import ArgumentParser
from typing import List, Optional, Sequence, Tuple

import cv2
import numpy as np
import onnxruntime as ort

IMAGE_EXTS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')
PAD_VALUE = 114


def parse_args():
    parser = ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('inputs', help='Image file or folder.')
    parser.add_argument('model', help='ONNX file of export_onnx.py.')
    parser.add_argument('--out-dir', default='outputs',
                        help='Output folder (vis/ and preds/ inside).')
    parser.add_argument('--score-thr', type=float, default=0.3,
                        help='Draw and save detections with score >= this '
                        '(on top of the threshold inside the graph).')
    parser.add_argument('--input-shape', type=int, nargs=2, default=None,
                        metavar=('H', 'W'),
                        help='Network input size; needed only for a graph '
                        'with dynamic size and no recorded input_shape.')
    parser.add_argument('--batch-size', type=int, default=1,
                        help='Images per run for a dynamic-batch graph (a '
                        'static graph uses its own batch).')
    return parser.parse_args()


def list_images(inputs: str) -> List[str]:
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


def letterbox(image: np.ndarray,
              size: Sequence[int]) -> Tuple[np.ndarray, Tuple[float, float]]:
    """``[h, w, 3]`` uint8 BGR -> ``([3, H, W]`` float32 network input,
    ``(w_scale, h_scale))``; the scales are those of mmdet's
    ``scale_factor`` (resized size / original size)."""
    height, width = size
    h, w = image.shape[:2]
    scale = min(height / h, width / w)
    new_w, new_h = int(w * scale + 0.5), int(h * scale + 0.5)
    resized = cv2.resize(image, (new_w, new_h),
                         interpolation=cv2.INTER_LINEAR)
    canvas = np.full((height, width, 3), PAD_VALUE, dtype=np.uint8)
    canvas[:new_h, :new_w] = resized
    return (np.ascontiguousarray(canvas.transpose(2, 0, 1),
                                 dtype=np.float32), (new_w / w, new_h / h))


def input_layout(session: ort.InferenceSession,
                 input_shape: Optional[Sequence[int]],
                 batch_size: int) -> Tuple[int, Tuple[int, int], bool]:
    """``(batch, (H, W), static_batch)`` of the graph input."""
    batch, _, height, width = session.get_inputs()[0].shape
    meta = session.get_modelmeta().custom_metadata_map
    if input_shape is None:
        if isinstance(height, int) and isinstance(width, int):
            input_shape = (height, width)
        elif 'input_shape' in meta:
            input_shape = tuple(int(v) for v in meta['input_shape'].split())
        else:
            raise ValueError('the graph has a dynamic input size: pass '
                             '--input-shape H W')
    if isinstance(batch, int):
        return batch, tuple(input_shape), True
    return batch_size, tuple(input_shape), False


def draw(image: np.ndarray, bboxes: np.ndarray, scores: np.ndarray,
         labels: np.ndarray, classes: Sequence[str]) -> np.ndarray:
    out = image.copy()
    thickness = max(1, round(max(image.shape[:2]) / 400))
    for box, score, label in zip(bboxes, scores, labels):
        color = tuple(int(c) for c in np.random.default_rng(
            int(label)).integers(64, 256, 3))
        x1, y1, x2, y2 = (int(round(v)) for v in box)
        cv2.rectangle(out, (x1, y1), (x2, y2), color, thickness)
        name = classes[label] if label < len(classes) else str(label)
        text = f'{name} {score:.2f}'
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.4,
                                         1)
        ty = max(y1, th + base)
        cv2.rectangle(out, (x1, ty - th - base), (x1 + tw, ty), color, -1)
        cv2.putText(out, text, (x1, ty - base), cv2.FONT_HERSHEY_SIMPLEX,
                    0.4, (0, 0, 0), 1, cv2.LINE_AA)
    return out


def main():
    args = parse_args()
    session = ort.InferenceSession(args.model,
                                   providers=['CPUExecutionProvider'])
    classes = json.loads(session.get_modelmeta().custom_metadata_map.get(
        'classes', '[]'))
    batch, size, static = input_layout(session, args.input_shape,
                                       args.batch_size)
    files = list_images(args.inputs)
    os.makedirs(osp.join(args.out_dir, 'vis'), exist_ok=True)
    os.makedirs(osp.join(args.out_dir, 'preds'), exist_ok=True)
    for start in range(0, len(files), batch):
        chunk = files[start:start + batch]
        images = [cv2.imread(f) for f in chunk]
        blobs, scales = zip(*(letterbox(img, size) for img in images))
        blobs = list(blobs)
        if static:  # fill a static batch with copies of the last image
            blobs += [blobs[-1]] * (batch - len(blobs))
        dets, labels = session.run(None, {'input': np.stack(blobs)})
        for path, image, scale, det, label in zip(chunk, images, scales,
                                                  dets, labels):
            keep = (label >= 0) & (det[:, 4] >= args.score_thr)
            h, w = image.shape[:2]
            bboxes = det[keep, :4] / np.array(scale * 2, dtype=np.float32)
            bboxes = bboxes.clip(0, [w, h, w, h])
            scores, label = det[keep, 4], label[keep]
            name = osp.basename(path)
            cv2.imwrite(osp.join(args.out_dir, 'vis', name),
                        draw(image, bboxes, scores, label, classes))
            with open(osp.join(args.out_dir, 'preds',
                               osp.splitext(name)[0] + '.json'), 'w') as f:
                json.dump(dict(labels=label.tolist(),
                               scores=[round(float(v), 5) for v in scores],
                               bboxes=[[round(float(v), 2) for v in box]
                                       for box in bboxes]), f)
            print(f'{name}: {int(keep.sum())} detections with score >= '
                  f'{args.score_thr}'
                  + (f' (best {scores[0]:.3f})' if len(scores) else ''))
    print(f'results in {args.out_dir}/vis and {args.out_dir}/preds')


if __name__ == '__main__':
    main()
