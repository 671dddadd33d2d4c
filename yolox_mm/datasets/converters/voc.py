"""Pascal VOC XML files (LabelImg, CVAT, Roboflow "VOC" exports, the VOC
devkit) to :class:`~.records.ImageRecord` objects.

One ``<annotation>`` file per image: ``<filename>`` (and sometimes
``<path>``), ``<size><width>/<height>``, and one ``<object>`` per box with
``<name>``, ``<difficult>``, ``<truncated>`` and ``<bndbox>`` with
``xmin ymin xmax ymax`` in **1-based** pixel coordinates (the devkit's
convention). They are converted as mmdet's ``XMLDataset``
(``mmdet/datasets/xml_style.py``, ``minus_one=True``) and mmdet's
``tools/dataset_converters/pascal_voc.py`` do: 1 is subtracted from all four
(``x1 = xmin - 1`` ... ``y2 = ymax - 1``; the box is ``xmax - xmin`` wide),
so boxes match those of mmdet's VOC models. ``truncated`` boxes are
ordinary boxes (as in the devkit's evaluation); ``difficult`` is kept in
the record for :func:`~.records.to_coco`.
"""
import glob
import os.path as osp
import xml.etree.ElementTree as ET
from typing import List, Optional, Sequence

from .image_files import IMAGE_EXTENSIONS, find_image, image_size
from .records import BoxRecord, ImageRecord


def _flag(obj: ET.Element, tag: str) -> bool:
    text = (obj.findtext(tag) or '0').strip()
    return text.lower() in ('1', 'true', 'yes')


def _number(element: ET.Element, tag: str, xml_file: str) -> float:
    text = element.findtext(tag)
    try:
        return float(text)
    except (TypeError, ValueError):
        raise ValueError(f'{xml_file}: <{tag}> is {text!r}; expected a '
                         'number') from None


def read_box(obj: ET.Element, xml_file: str) -> BoxRecord:
    """One ``<object>`` as a box in 0-based pixels (see module doc).

    Raises:
        ValueError: if it has no ``<name>`` or ``<bndbox>``, or a
            coordinate is not a number.
    """
    name = (obj.findtext('name') or '').strip()
    bndbox = obj.find('bndbox')
    if not name or bndbox is None:
        raise ValueError(f'{xml_file}: an <object> without <name> or '
                         '<bndbox>')
    xmin, ymin, xmax, ymax = (_number(bndbox, tag, xml_file)
                              for tag in ('xmin', 'ymin', 'xmax', 'ymax'))
    return BoxRecord(name=name,
                     bbox=tuple(v - 1 for v in (xmin, ymin, xmax, ymax)),
                     difficult=_flag(obj, 'difficult'),
                     truncated=_flag(obj, 'truncated'))


def read_voc_xml(xml_file: str,
                 img_dirs: Sequence[str] = ()) -> ImageRecord:
    """One VOC XML file.

    The image is found with :func:`~.image_files.find_image` (``<path>``,
    then ``<filename>``, then the XML's stem with image extensions, in
    ``img_dirs`` and next to the XML). The size is ``<size>`` if it is
    there and positive, else read from the image.

    Raises:
        ValueError: if the file is not a VOC ``<annotation>`` or a box is
            malformed; FileNotFoundError if the image is not found.
    """
    try:
        root = ET.parse(xml_file).getroot()
    except ET.ParseError as e:
        raise ValueError(f'{xml_file} is not valid XML: {e}') from None
    if root.tag != 'annotation':
        raise ValueError(f'{xml_file}: root element <{root.tag}>; expected '
                         'a VOC <annotation>')
    boxes = [read_box(obj, xml_file) for obj in root.iter('object')]
    path = _existing(root.findtext('path'))
    path = path or find_image(root.findtext('filename'), xml_file, img_dirs)
    size = root.find('size')
    width = height = 0
    if size is not None:
        width = int(float(size.findtext('width') or 0))
        height = int(float(size.findtext('height') or 0))
    if width <= 0 or height <= 0:
        width, height = image_size(path)
    return ImageRecord(path=path, width=width, height=height, boxes=boxes)


def _existing(path: Optional[str]) -> Optional[str]:
    return path if path and osp.isfile(path) else None


def read_voc_folder(folder: str, img_dirs: Sequence[str] = (),
                    include_unlabelled: bool = False) -> List[ImageRecord]:
    """Every ``*.xml`` directly in ``folder`` (sorted by name).

    Args:
        folder: The folder with the XML files (and usually the images).
        img_dirs: Other folders to look for the images in.
        include_unlabelled: Also add the images of ``folder`` that have no
            XML file, as images without boxes. Default False: an image
            LabelImg never saved may be unannotated rather than empty.

    Raises:
        FileNotFoundError: if ``folder`` has no XML file.
    """
    xml_files = sorted(glob.glob(osp.join(folder, '*.xml')))
    if not xml_files:
        raise FileNotFoundError(f'no *.xml file in {folder}')
    records = [read_voc_xml(f, img_dirs) for f in xml_files]
    if include_unlabelled:
        records += unlabelled_images(folder, records)
    return records


def unlabelled_images(folder: str,
                      records: List[ImageRecord]) -> List[ImageRecord]:
    """The images of ``folder`` no record uses, as records without boxes."""
    used = {osp.abspath(r.path) for r in records}
    found = sorted(p for p in glob.glob(osp.join(folder, '*'))
                   if osp.splitext(p)[1].lower() in IMAGE_EXTENSIONS
                   and osp.abspath(p) not in used)
    return [ImageRecord(p, *image_size(p)) for p in found]
