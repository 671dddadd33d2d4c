"""CheckedLoadImageFromFile: bad image files raise errors naming the file
and the image id (also from a DataLoader worker); gray, RGBA and 16-bit
PNGs become 3-channel uint8 BGR with the pixel values computed by hand."""
import json
import logging
import uuid

import cv2
import numpy as np
import pytest
from mmengine.logging import MMLogger
from torch.utils.data import DataLoader

from yolox_mm.datasets import CheckedCocoDataset, CheckedLoadImageFromFile
from yolox_mm.registry import TRANSFORMS


@pytest.fixture
def warnings_logged():
    """Warning messages of a new current MMLogger."""
    logger = MMLogger.get_instance(f'loading_{uuid.uuid4().hex}',
                                   log_level='INFO')
    messages = []

    class Handler(logging.Handler):

        def emit(self, record):
            if record.levelno == logging.WARNING:
                messages.append(record.getMessage())

    handler = Handler()
    logger.addHandler(handler)
    yield messages
    logger.removeHandler(handler)


def load(path, img_id=3, **kwargs):
    results = dict(img_path=str(path), img_id=img_id)
    return CheckedLoadImageFromFile(**kwargs)(results)


def test_registered():
    assert TRANSFORMS.get('CheckedLoadImageFromFile') is \
        CheckedLoadImageFromFile


GRAY = np.array([[0, 1, 127], [128, 254, 255]], np.uint8)
#: BGRA pixels: transparent (alpha 0), half and fully opaque
BGRA = np.array([[[10, 20, 30, 0], [40, 50, 60, 128], [70, 80, 90, 255]]],
                np.uint8)
#: 16-bit values and their high bytes (v >> 8), by hand
U16 = np.array([[0, 255, 256, 511], [4095, 32768, 65280, 65535]], np.uint16)
U16_HIGH_BYTE = [[0, 0, 1, 1], [15, 128, 255, 255]]


@pytest.mark.parametrize('color_type', ['color', 'unchanged'])
def test_gray_png_is_replicated_to_three_channels(tmp_path, color_type):
    cv2.imwrite(str(tmp_path / 'g.png'), GRAY)
    img = load(tmp_path / 'g.png', color_type=color_type)['img']
    assert img.dtype == np.uint8 and img.shape == (2, 3, 3)
    for c in range(3):
        assert img[..., c].tolist() == [[0, 1, 127], [128, 254, 255]]


@pytest.mark.parametrize('color_type', ['color', 'unchanged'])
def test_rgba_png_drops_alpha(tmp_path, color_type):
    cv2.imwrite(str(tmp_path / 'a.png'), BGRA)
    img = load(tmp_path / 'a.png', color_type=color_type)['img']
    assert img.dtype == np.uint8
    assert img.tolist() == [[[10, 20, 30], [40, 50, 60], [70, 80, 90]]]


@pytest.mark.parametrize('color_type', ['color', 'unchanged'])
def test_16bit_png_keeps_the_high_byte(tmp_path, color_type):
    cv2.imwrite(str(tmp_path / 'g16.png'), U16)
    bgr16 = np.stack([U16, U16[::-1], U16[:, ::-1]], axis=-1)
    cv2.imwrite(str(tmp_path / 'c16.png'), bgr16)
    assert cv2.imread(str(tmp_path / 'g16.png'),
                      cv2.IMREAD_UNCHANGED).dtype == np.uint16
    gray = load(tmp_path / 'g16.png', color_type=color_type)['img']
    assert gray.dtype == np.uint8 and gray.shape == (2, 4, 3)
    for c in range(3):
        assert gray[..., c].tolist() == U16_HIGH_BYTE
    color = load(tmp_path / 'c16.png', color_type=color_type)['img']
    assert color[..., 0].tolist() == U16_HIGH_BYTE
    assert color[..., 1].tolist() == U16_HIGH_BYTE[::-1]
    assert color[..., 2].tolist() == [row[::-1] for row in U16_HIGH_BYTE]


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        load(tmp_path / 'nope.png')
    assert str(info.value) == \
        f"Image file not found: {tmp_path / 'nope.png'} (image id 3)"


def test_zero_byte_file(tmp_path):
    (tmp_path / 'empty.png').touch()
    with pytest.raises(OSError) as info:
        load(tmp_path / 'empty.png')
    assert str(info.value) == (f"Cannot decode image {tmp_path / 'empty.png'}"
                               ' (image id 3): the file is empty (0 bytes)')


def _truncated(tmp_path, ext):
    rng = np.random.default_rng(0)
    full = tmp_path / f'full{ext}'
    cv2.imwrite(str(full), rng.integers(0, 256, (32, 32, 3), np.uint8))
    data = full.read_bytes()
    path = tmp_path / f'cut{ext}'
    path.write_bytes(data[:len(data) // 2])
    return path


@pytest.mark.parametrize('kind', ['png', 'jpg', 'text'])
def test_truncated_or_non_image_file(tmp_path, kind):
    if kind == 'text':
        path = tmp_path / 'notes.png'
        path.write_text('not an image')
    else:
        path = _truncated(tmp_path, '.' + kind)
    with pytest.raises(OSError) as info:
        load(path, img_id=42)
    assert type(info.value) is OSError
    assert str(info.value).startswith(
        f'Cannot decode image {path} (image id 42) '
        f'({path.stat().st_size} bytes): not an image, or truncated')


def test_ignore_empty_skips_with_a_warning(tmp_path, warnings_logged):
    (tmp_path / 'empty.png').touch()
    assert load(tmp_path / 'empty.png', ignore_empty=True) is None
    assert load(tmp_path / 'nope.png', ignore_empty=True) is None
    assert len(warnings_logged) == 2
    assert f"{tmp_path / 'empty.png'} (image id 3)" in warnings_logged[0]
    assert warnings_logged[0].endswith('skipped (ignore_empty=True)')


def test_size_other_than_the_annotation_warns_once(tmp_path,
                                                   warnings_logged):
    cv2.imwrite(str(tmp_path / 'img.png'), np.zeros((20, 30, 3), np.uint8))
    results = dict(img_path=str(tmp_path / 'img.png'), img_id=5, height=30,
                   width=20)
    transform = CheckedLoadImageFromFile()
    for _ in range(2):
        out = transform(dict(results))
        assert out['img_shape'] == (20, 30)
    assert warnings_logged == [
        f"Image {tmp_path / 'img.png'} (image id 5) is 20 x 30 (h x w) but "
        'its annotation says 30 x 20: its boxes will not match the image'
    ]


def test_error_in_a_dataloader_worker_names_the_file(tmp_path):
    """The error a worker raises reaches the main process with the file
    name and image id (torch re-raises it as the same type)."""
    cv2.imwrite(str(tmp_path / 'good.png'), np.zeros((8, 8, 3), np.uint8))
    bad = _truncated(tmp_path, '.png')
    data = dict(
        images=[dict(id=1, file_name='good.png', width=8, height=8),
                dict(id=2, file_name=bad.name, width=32, height=32)],
        annotations=[], categories=[dict(id=1, name='tree')])
    (tmp_path / 'ann.json').write_text(json.dumps(data))
    dataset = CheckedCocoDataset(
        ann_file=str(tmp_path / 'ann.json'),
        data_prefix=dict(img=str(tmp_path) + '/'),
        metainfo=dict(classes=('tree', )), test_mode=True,
        pipeline=[CheckedLoadImageFromFile()])
    loader = DataLoader(dataset, batch_size=1, num_workers=1,
                        collate_fn=lambda batch: batch)
    with pytest.raises(OSError) as info:
        for _ in loader:
            pass
    message = str(info.value)
    assert 'in DataLoader worker process 0' in message
    assert f'Cannot decode image {bad} (image id 2)' in message
