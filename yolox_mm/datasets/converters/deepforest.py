"""Convert the annotated aerial images shipped in the ``deepforest`` wheel to
tiled COCO detection datasets.

The PyPI wheel ``deepforest==2.1.0`` ships, under ``deepforest/data/``, four
RGB images with Pascal VOC box annotations of tree crowns::

    2019_YELL_2_528000_4978000_image_crop2  2299x2472  574 boxes  -> train
    2019_YELL_2_541000_4977000_image_crop   1249x1035  279 boxes  -> val
    OSBS_029                                 400x400    61 boxes  -> val
    SOAP_061                                 400x400    37 boxes  -> val

Every annotated image is cut into tiles on a regular grid (origin (0, 0),
tile size 400, stride 400). Edge tiles that would extend beyond the image are
cut short (no padding). Boxes are clipped to each tile; a clipped box is kept
only if it has non-zero area and keeps at least half of its original area.
Tiles without any remaining box are skipped (optionally also edge tiles
with a side shorter than ``--min-tile-side``, default 0 = keep all). Tiles
are written as PNG files (lossless) to
``<out-dir>/images/<stem>_x{x0}_y{y0}.png`` and the COCO files
``<out-dir>/annotations/{train,val}.json`` are written with one category
``{id: 1, name: 'tree'}``.

Box convention: VOC ``xmin/ymin/xmax/ymax`` are used as-is as continuous
pixel coordinates (no 1-based shift), exactly like
``deepforest.utilities.read_pascal_voc``; a box covers ``[xmin, xmax) x
[ymin, ymax)``. The COCO box is ``[xmin - x0, ymin - y0, xmax - xmin,
ymax - ymin]`` (after clipping to the tile) and ``area = w * h``.

The whole conversion (reuse a complete output, else fetch the wheel,
extract its data, tile, validate) is :func:`prepare_deepforest`; its CLI is
``tools/dataset_converters/deepforest_to_coco.py``.
"""
import glob
import json
import logging
import os
import os.path as osp
import subprocess
import sys
import xml.etree.ElementTree as ET
import zipfile
from typing import Dict, List, Optional, Sequence, Tuple

logger = logging.getLogger(__name__)

DEEPFOREST_VERSION = '2.1.0'
WHEEL_DATA_PREFIX = 'deepforest/data/'
TILE_SIZE = 400
STRIDE = 400
MIN_AREA_FRAC = 0.5
# Edge tiles narrower or shorter than this are skipped (0: keep every tile,
# the default; e.g. 100 drops the 72 px / 49 px edge strips of the wheel
# images).
MIN_TILE_SIDE = 0
SPLITS = ('train', 'val')
TRAIN_STEMS = frozenset({'2019_YELL_2_528000_4978000_image_crop2'})
CATEGORIES = [{'id': 1, 'name': 'tree'}]
# Every VOC class name maps to the single 'tree' category. The wheel uses
# 'Tree' everywhere except SOAP_061.xml, which labels its crowns
# 'Alive' / 'Dead' (still tree crowns).
TREE_CATEGORY_ID = 1

Box = Tuple[float, float, float, float]  # xmin, ymin, xmax, ymax


def parse_voc(xml_path: str) -> Dict:
    """Parse a Pascal VOC annotation file.

    Args:
        xml_path: Path of the ``.xml`` file.

    Returns:
        dict with keys ``stem`` (xml file name without extension),
        ``filename`` (the ``<filename>`` entry of the xml, may be absent ->
        None), ``width``, ``height`` (ints from ``<size>``) and ``boxes``
        (list of dicts ``{'name': str, 'bbox': (xmin, ymin, xmax, ymax)}``
        with float coordinates used as-is, see module docstring).
    """
    root = ET.parse(xml_path).getroot()
    size = root.find('size')
    width = int(float(size.find('width').text))
    height = int(float(size.find('height').text))
    fname = root.findtext('filename')
    boxes = []
    for obj in root.iter('object'):
        bnd = obj.find('bndbox')
        bbox = tuple(
            float(bnd.findtext(k)) for k in ('xmin', 'ymin', 'xmax', 'ymax'))
        boxes.append({'name': (obj.findtext('name') or '').strip(),
                      'bbox': bbox})
    return {
        'stem': osp.splitext(osp.basename(xml_path))[0],
        'filename': fname.strip() if fname else None,
        'width': width,
        'height': height,
        'boxes': boxes,
    }


def resolve_image_path(xml_path: str, voc: Dict) -> str:
    """Find the image that belongs to a VOC xml file.

    The PNG with the same stem as the xml next to it is preferred (e.g.
    ``OSBS_029.xml`` names ``OSBS_029.tif`` but ``OSBS_029.png`` is used);
    the xml ``<filename>`` is the fallback.

    Raises:
        FileNotFoundError: if no image can be found.
    """
    folder = osp.dirname(xml_path)
    candidates = [osp.join(folder, voc['stem'] + '.png')]
    if voc.get('filename'):
        candidates.append(osp.join(folder, osp.basename(voc['filename'])))
    for path in candidates:
        if osp.isfile(path):
            return path
    raise FileNotFoundError(f'no image found for {xml_path}: {candidates}')


def tile_grid(width: int, height: int, tile_size: int = TILE_SIZE,
              stride: int = STRIDE) -> List[Tuple[int, int, int, int]]:
    """Regular tile grid over an image, row-major (y, then x).

    Tiles start at (0, 0) and are spaced by ``stride``; tiles that would
    extend beyond the image are cut at the image border (no padding).

    Returns:
        list of ``(x0, y0, x1, y1)`` integer tile windows, ``x1``/``y1``
        exclusive.
    """
    tiles = []
    for y0 in range(0, height, stride):
        for x0 in range(0, width, stride):
            tiles.append((x0, y0, min(x0 + tile_size, width),
                          min(y0 + tile_size, height)))
    return tiles


def clip_box_to_tile(bbox: Box, tile: Sequence[int],
                     min_area_frac: float = MIN_AREA_FRAC
                     ) -> Optional[Box]:
    """Clip one box (image coordinates) to a tile window.

    Args:
        bbox: ``(xmin, ymin, xmax, ymax)`` in image pixels.
        tile: ``(x0, y0, x1, y1)`` tile window in image pixels.
        min_area_frac: the clipped box is kept only if its area is at least
            this fraction of the original box area.

    Returns:
        The clipped box as ``(xmin, ymin, xmax, ymax)`` in *tile*
        coordinates, or None if the box is dropped (zero area before or
        after clipping, or less than ``min_area_frac`` of its area left).
    """
    xmin, ymin, xmax, ymax = bbox
    x0, y0, x1, y1 = tile
    orig_area = (xmax - xmin) * (ymax - ymin)
    if xmax <= xmin or ymax <= ymin:
        return None
    cxmin, cymin = max(xmin, x0), max(ymin, y0)
    cxmax, cymax = min(xmax, x1), min(ymax, y1)
    if cxmax <= cxmin or cymax <= cymin:
        return None
    area = (cxmax - cxmin) * (cymax - cymin)
    if area < min_area_frac * orig_area:
        return None
    return (float(cxmin - x0), float(cymin - y0), float(cxmax - x0),
            float(cymax - y0))


def tile_annotations(voc: Dict, tile_size: int = TILE_SIZE,
                     stride: int = STRIDE,
                     min_area_frac: float = MIN_AREA_FRAC,
                     min_tile_side: int = MIN_TILE_SIDE) -> List[Dict]:
    """Tile one parsed VOC image (boxes only, no pixel I/O).

    Tiles whose width or height is below ``min_tile_side`` are skipped
    (their boxes are not moved to another tile).

    Returns:
        list (row-major grid order) of the tiles that keep at least one
        box: ``{'file_name': '<stem>_x{x0}_y{y0}.png', 'window': (x0, y0,
        x1, y1), 'width', 'height', 'boxes': [(xmin, ymin, xmax, ymax), ...]
        in tile coordinates}``.
    """
    out = []
    for win in tile_grid(voc['width'], voc['height'], tile_size, stride):
        if min(win[2] - win[0], win[3] - win[1]) < min_tile_side:
            continue
        boxes = []
        for obj in voc['boxes']:
            clipped = clip_box_to_tile(obj['bbox'], win, min_area_frac)
            if clipped is not None:
                boxes.append(clipped)
        if not boxes:
            continue
        x0, y0, x1, y1 = win
        out.append({
            'file_name': f"{voc['stem']}_x{x0}_y{y0}.png",
            'window': win,
            'width': x1 - x0,
            'height': y1 - y0,
            'boxes': boxes,
        })
    return out


def split_for_stem(stem: str) -> str:
    """Fixed split: ``'train'`` for the large YELL crop2 image, ``'val'``
    for every other annotated image."""
    return 'train' if stem in TRAIN_STEMS else 'val'


def empty_coco() -> Dict:
    """A COCO dict with the ``tree`` category and no images."""
    return {
        'info': {
            'description': f'deepforest=={DEEPFOREST_VERSION} '
                           'deepforest/data tiled to COCO',
            'tile_size': TILE_SIZE,
            'stride': STRIDE,
            'min_area_frac': MIN_AREA_FRAC,
            'min_tile_side': MIN_TILE_SIDE,
        },
        'images': [],
        'annotations': [],
        'categories': [dict(c) for c in CATEGORIES],
    }


def add_tile_to_coco(coco: Dict, tile: Dict) -> None:
    """Append one tile (from :func:`tile_annotations`) and its boxes to a
    COCO dict, with consecutive 1-based image / annotation ids."""
    image_id = len(coco['images']) + 1
    coco['images'].append({
        'id': image_id,
        'file_name': tile['file_name'],
        'width': tile['width'],
        'height': tile['height'],
    })
    for xmin, ymin, xmax, ymax in tile['boxes']:
        w, h = xmax - xmin, ymax - ymin
        coco['annotations'].append({
            'id': len(coco['annotations']) + 1,
            'image_id': image_id,
            'category_id': TREE_CATEGORY_ID,
            'bbox': [float(xmin), float(ymin), float(w), float(h)],
            'area': float(w * h),
            'iscrowd': 0,
        })


def convert_dir(data_dir: str, out_dir: str, tile_size: int = TILE_SIZE,
                stride: int = STRIDE,
                min_area_frac: float = MIN_AREA_FRAC,
                min_tile_side: int = MIN_TILE_SIDE) -> Dict[str, Dict]:
    """Tile every annotated image (``*.xml``) in ``data_dir`` and write the
    PNG tiles and the COCO json files under ``out_dir``.

    The json files are written last (atomically, via a temporary file), so
    a complete pair of json files implies that all tiles were written.

    Returns:
        ``{'train': coco_dict, 'val': coco_dict}``.
    """
    import cv2  # local import: the pure tiling functions do not need it

    img_dir = osp.join(out_dir, 'images')
    ann_dir = osp.join(out_dir, 'annotations')
    os.makedirs(img_dir, exist_ok=True)
    os.makedirs(ann_dir, exist_ok=True)
    cocos = {split: empty_coco() for split in SPLITS}
    for c in cocos.values():
        c['info'].update(tile_size=tile_size, stride=stride,
                         min_area_frac=min_area_frac,
                         min_tile_side=min_tile_side)

    xml_files = sorted(glob.glob(osp.join(data_dir, '*.xml')))
    if not xml_files:
        raise FileNotFoundError(f'no VOC xml files in {data_dir}')
    for xml_path in xml_files:
        voc = parse_voc(xml_path)
        img_path = resolve_image_path(xml_path, voc)
        img = cv2.imread(img_path, cv2.IMREAD_UNCHANGED)
        if img is None:
            raise IOError(f'cannot read {img_path}')
        if img.shape[:2] != (voc['height'], voc['width']):
            raise ValueError(
                f'{img_path}: image size {img.shape[1]}x{img.shape[0]} != '
                f"xml size {voc['width']}x{voc['height']}")
        names = sorted({b['name'] for b in voc['boxes']})
        if names != ['Tree']:
            logger.info('%s: VOC names %s all mapped to "tree"',
                        voc['stem'], names)
        split = split_for_stem(voc['stem'])
        tiles = tile_annotations(voc, tile_size, stride, min_area_frac,
                                 min_tile_side)
        for tile in tiles:
            x0, y0, x1, y1 = tile['window']
            crop = img[y0:y1, x0:x1]
            dst = osp.join(img_dir, tile['file_name'])
            if not cv2.imwrite(dst, crop):
                raise IOError(f'cannot write {dst}')
            add_tile_to_coco(cocos[split], tile)
        logger.info('%s -> %s: %d boxes, %d tiles, %d clipped boxes kept',
                    voc['stem'], split, len(voc['boxes']), len(tiles),
                    sum(len(t['boxes']) for t in tiles))

    for split, coco in cocos.items():
        dst = osp.join(ann_dir, f'{split}.json')
        tmp = dst + '.tmp'
        with open(tmp, 'w') as f:
            json.dump(coco, f)
        os.replace(tmp, dst)
    return cocos


def load_complete_outputs(out_dir: str,
                          min_tile_side: int = MIN_TILE_SIDE
                          ) -> Optional[Dict[str, Dict]]:
    """Return the existing COCO dicts if ``out_dir`` already holds a
    complete conversion, else None.

    Complete means: both ``annotations/{train,val}.json`` parse, have the
    COCO keys and the requested tiling parameters (recorded in ``info``),
    are non-empty, and every referenced image file exists under
    ``images/``.
    """
    cocos = {}
    for split in SPLITS:
        path = osp.join(out_dir, 'annotations', f'{split}.json')
        if not osp.isfile(path):
            return None
        try:
            with open(path) as f:
                coco = json.load(f)
        except (OSError, ValueError):
            return None
        if not all(k in coco for k in ('images', 'annotations',
                                       'categories')):
            return None
        info = coco.get('info', {})
        if (info.get('tile_size'), info.get('stride'),
                info.get('min_area_frac'), info.get('min_tile_side')) != (
                    TILE_SIZE, STRIDE, MIN_AREA_FRAC, min_tile_side):
            return None
        if not coco['images'] or not coco['annotations']:
            return None
        for img in coco['images']:
            if not osp.isfile(osp.join(out_dir, 'images', img['file_name'])):
                return None
        cocos[split] = coco
    return cocos


def download_wheel(download_dir: str,
                   version: str = DEEPFOREST_VERSION) -> str:
    """Download the deepforest wheel with ``pip download --no-deps`` (reused
    if already present in ``download_dir``) and return its path."""
    pattern = osp.join(download_dir, f'deepforest-{version}-*.whl')
    found = sorted(glob.glob(pattern))
    if not found:
        os.makedirs(download_dir, exist_ok=True)
        cmd = [sys.executable, '-m', 'pip', 'download', '--no-deps',
               f'deepforest=={version}', '-d', download_dir]
        logger.info('running %s', ' '.join(cmd))
        subprocess.run(cmd, check=True)
        found = sorted(glob.glob(pattern))
    if not found:
        raise FileNotFoundError(f'pip download produced no {pattern}')
    return found[0]


def extract_wheel_data(wheel_path: str, dst_dir: str) -> str:
    """Extract only the ``deepforest/data/*`` members of the wheel into
    ``dst_dir`` and return the path of the extracted ``deepforest/data``
    folder."""
    dst_root = osp.realpath(dst_dir)
    with zipfile.ZipFile(wheel_path) as zf:
        members = [m for m in zf.namelist()
                   if m.startswith(WHEEL_DATA_PREFIX) and not m.endswith('/')]
        if not members:
            raise ValueError(f'{wheel_path} has no {WHEEL_DATA_PREFIX}*')
        for m in members:
            target = osp.realpath(osp.join(dst_root, m))
            if not target.startswith(dst_root + os.sep):
                raise ValueError(f'unsafe path in wheel: {m}')
            zf.extract(m, dst_root)
    return osp.join(dst_root, WHEEL_DATA_PREFIX.rstrip('/'))


def validate_with_pycocotools(out_dir: str) -> None:
    """Load ``annotations/{train,val}.json`` with ``pycocotools.coco.COCO``
    (its progress messages are silenced); raises if a file is invalid."""
    import contextlib
    import io

    from pycocotools.coco import COCO
    for split in SPLITS:
        with contextlib.redirect_stdout(io.StringIO()):
            coco = COCO(osp.join(out_dir, 'annotations', f'{split}.json'))
        if set(coco.getCatIds()) != {TREE_CATEGORY_ID}:
            raise ValueError(f'{split}: unexpected categories')


def summarize(cocos: Dict[str, Dict]) -> List[str]:
    """One summary line per split: number of tiles and boxes."""
    return [f"{split}: {len(c['images'])} tiles, "
            f"{len(c['annotations'])} boxes" for split, c in cocos.items()]


def prepare_deepforest(out_dir: str, wheel: Optional[str] = None,
                       min_tile_side: int = MIN_TILE_SIDE,
                       force: bool = False) -> Dict[str, Dict]:
    """The tiled COCO sets under ``out_dir``, made if needed.

    Args:
        out_dir: Output folder (``images/``, ``annotations/``; the wheel is
            downloaded to ``download/`` and extracted to ``raw/``).
        wheel: A local ``deepforest`` wheel; None: ``pip download`` it.
        min_tile_side: See :func:`tile_annotations`.
        force: Rebuild even if ``out_dir`` holds a complete conversion made
            with the same tiling parameters.

    Returns:
        ``{'train': coco_dict, 'val': coco_dict}``, loaded when complete
        (nothing is downloaded or written), else converted and validated
        with pycocotools.
    """
    cocos = None if force else load_complete_outputs(out_dir, min_tile_side)
    if cocos is not None:
        logger.info('%s already complete, nothing to do', out_dir)
        return cocos
    wheel = wheel or download_wheel(osp.join(out_dir, 'download'))
    data_dir = extract_wheel_data(wheel, osp.join(out_dir, 'raw'))
    cocos = convert_dir(data_dir, out_dir, min_tile_side=min_tile_side)
    validate_with_pycocotools(out_dir)
    return cocos
