"""Finding the image file an annotation file names, and its size.

Real exports name their image in many ways: an absolute path from the
annotating machine (``C:\\data\\img1.jpg``), a path relative to the
annotation file (labelme's ``imagePath``, e.g. ``../images/img1.jpg``), a
bare file name (VOC ``<filename>``) or a name with another extension than
the file on disk. :func:`find_image` tries them in a fixed order.
"""
import os.path as osp
from typing import List, Optional, Sequence, Tuple

#: Extensions tried when the named file does not exist (same stem).
IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff',
                    '.webp')


def _basename(name: str) -> str:
    """Last component of a POSIX or Windows path."""
    return name.replace('\\', '/').rstrip('/').split('/')[-1]


def candidate_paths(name: Optional[str], ann_file: str,
                    img_dirs: Sequence[str] = ()) -> List[str]:
    """Where the image named ``name`` in ``ann_file`` may be, in order:

    1. ``name`` itself if absolute;
    2. ``name`` relative to the annotation file's folder (labelme);
    3. its base name in each of ``img_dirs``, then next to ``ann_file``;
    4. the annotation file's stem with each of :data:`IMAGE_EXTENSIONS`
       in the same folders (VOC: ``img1.xml`` next to ``img1.jpg``).
    """
    ann_dir = osp.dirname(osp.abspath(ann_file))
    folders = [osp.abspath(d) for d in img_dirs] + [ann_dir]
    paths = []
    if name:
        posix = name.replace('\\', '/')
        if osp.isabs(posix):
            paths.append(posix)
        else:
            paths.append(osp.normpath(osp.join(ann_dir, posix)))
        paths += [osp.join(d, _basename(name)) for d in folders]
    stem = osp.splitext(osp.basename(ann_file))[0]
    paths += [osp.join(d, stem + ext) for d in folders
              for ext in IMAGE_EXTENSIONS + tuple(e.upper()
                                                  for e in IMAGE_EXTENSIONS)]
    return list(dict.fromkeys(paths))


def find_image(name: Optional[str], ann_file: str,
               img_dirs: Sequence[str] = ()) -> str:
    """The first existing path of :func:`candidate_paths`.

    Raises:
        FileNotFoundError: naming the annotation file, the image name it
            gives and the first paths tried.
    """
    paths = candidate_paths(name, ann_file, img_dirs)
    for path in paths:
        if osp.isfile(path):
            return path
    raise FileNotFoundError(
        f'{ann_file}: image {name!r} not found; tried {paths[:4]} and '
        f'{len(paths) - 4} more (same stem with other extensions). Pass '
        'the image folder with --img-dir.')


def image_size(path: str) -> Tuple[int, int]:
    """``(width, height)`` of the decoded image, as mmcv's loader sees it
    (OpenCV, EXIF orientation applied).

    Raises:
        ValueError: if OpenCV cannot decode the file.
    """
    import cv2
    img = cv2.imread(path, cv2.IMREAD_COLOR)
    if img is None:
        raise ValueError(f'{path}: OpenCV cannot decode this image')
    return img.shape[1], img.shape[0]
