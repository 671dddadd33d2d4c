"""Image loading that names the file when it fails."""
from typing import Optional

import cv2
import mmcv
import numpy as np
from mmcv.transforms import LoadImageFromFile
from mmengine import fileio
from mmengine.logging import MMLogger

from yolox_mm.registry import TRANSFORMS

# Files this process already warned about (one warning per file, not one
# per epoch).
_warned = set()


def _describe(results: dict) -> str:
    """``'path (image id 3)'``, for messages."""
    img_id = results.get('img_id')
    return results['img_path'] + ('' if img_id is None else
                                  f' (image id {img_id})')


def to_bgr_uint8(img: np.ndarray, name: str) -> np.ndarray:
    """A decoded image as ``H x W x 3`` uint8 BGR.

    With mmcv's default ``color_type='color'`` and the cv2 backend the
    decoder already gives this (gray replicated to 3 channels, alpha
    dropped, 16 bit reduced to the high byte), and the image is returned as
    it is. Other ``color_type``\\ s or backends may give ``H x W``,
    ``H x W x 1``, ``H x W x 4`` or uint16; they are converted the same
    way: gray -> the value in all three channels, BGRA -> BGR (alpha
    dropped, not composited), uint16 ``v`` -> ``v >> 8``.

    Raises:
        ValueError: for another dtype or channel count, naming ``name``.
    """
    if img.dtype == np.uint16:
        img = (img >> 8).astype(np.uint8)
    if img.dtype != np.uint8:
        raise ValueError(f'Image {name} decoded as {img.dtype}; expected '
                         '8- or 16-bit integers')
    if img.ndim == 3 and img.shape[2] == 3:
        return img
    if img.ndim == 2 or (img.ndim == 3 and img.shape[2] == 1):
        return cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    if img.ndim == 3 and img.shape[2] == 4:
        return np.ascontiguousarray(img[..., :3])
    raise ValueError(f'Image {name} decoded with shape {img.shape}; '
                     'expected 1, 3 or 4 channels')


@TRANSFORMS.register_module()
class CheckedLoadImageFromFile(LoadImageFromFile):
    """mmcv's ``LoadImageFromFile`` with errors that name the image.

    Same arguments and outputs (``img``, ``img_shape``, ``ori_shape``) as
    mmcv 2.1's ``LoadImageFromFile``; the decoding is mmcv's. Differences:

    - A missing, empty, truncated or non-image file raises an error naming
      the path and the image id (mmcv: a bare ``FileNotFoundError``, an
      OpenCV assertion ``!buf.empty()`` for an empty file, and
      ``AssertionError: failed to load image`` otherwise, which ``python
      -O`` removes). With ``ignore_empty=True`` such a file gives None (the
      dataset then draws another sample) and a warning naming the file.
    - The image is always ``H x W x 3`` uint8 BGR (:func:`to_bgr_uint8`):
      with the default ``color_type='color'`` OpenCV already converts gray,
      gray+alpha, BGRA, palette and 16-bit PNGs (16 bit -> high byte,
      ``v >> 8``; data using only the low bits, e.g. 12-bit sensors, comes
      out dark: scale such images to 8 bit beforehand); other
      ``color_type``\\ s are converted the same way.
    - If the record has ``height``/``width`` (COCO) and the decoded image
      has another size, a warning names the file once per process: the
      boxes are in the json's pixel grid, so they would not match the image
      (e.g. an EXIF rotation the json's sizes ignore).

    Raises:
        FileNotFoundError: the file does not exist.
        OSError: it cannot be read, is empty, or cannot be decoded (not an
            image, truncated, corrupt).
        ValueError: it decodes to an unsupported dtype or channel count.
    """

    def transform(self, results: dict) -> Optional[dict]:
        name = _describe(results)
        try:
            img = self._decode(results['img_path'], name)
        except OSError as e:
            if not self.ignore_empty:
                raise
            self._warn_once(results['img_path'],
                            f'{e}; skipped (ignore_empty=True)')
            return None
        img = to_bgr_uint8(img, name)
        expected = (results.get('height'), results.get('width'))
        if None not in expected and tuple(img.shape[:2]) != expected:
            self._warn_once(
                results['img_path'],
                f'Image {name} is {img.shape[0]} x {img.shape[1]} (h x w) '
                f'but its annotation says {expected[0]} x {expected[1]}: '
                'its boxes will not match the image')
        if self.to_float32:
            img = img.astype(np.float32)
        results['img'] = img
        results['img_shape'] = img.shape[:2]
        results['ori_shape'] = img.shape[:2]
        return results

    def _decode(self, filename: str, name: str) -> np.ndarray:
        try:
            if self.file_client_args is not None:
                img_bytes = fileio.FileClient.infer_client(
                    self.file_client_args, filename).get(filename)
            else:
                img_bytes = fileio.get(filename,
                                       backend_args=self.backend_args)
        except FileNotFoundError:
            raise FileNotFoundError(
                f'Image file not found: {name}') from None
        except Exception as e:
            raise OSError(f'Cannot read image {name}: {e}') from e
        if not img_bytes:
            raise OSError(f'Cannot decode image {name}: the file is empty '
                          '(0 bytes)')
        try:
            img = mmcv.imfrombytes(
                img_bytes, flag=self.color_type,
                backend=self.imdecode_backend)
        except Exception as e:
            img, cause = None, f' ({type(e).__name__}: {e})'
        else:
            cause = ''
        if img is None:
            raise OSError(
                f'Cannot decode image {name} ({len(img_bytes)} bytes): not '
                f'an image, or truncated or corrupt{cause}')
        return img

    @staticmethod
    def _warn_once(path: str, message: str) -> None:
        if path not in _warned:
            _warned.add(path)
            MMLogger.get_current_instance().warning(message)
