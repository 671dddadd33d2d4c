"""Converters from common annotation formats (VOC XML, labelme JSON, COCO
json as exported by annotation tools) to the COCO json mmdet's
``CocoDataset`` reads; docs/custom_dataset.md. Standard library (and OpenCV
for image sizes missing from the annotations) only. :mod:`.deepforest`
tiles the DeepForest wheel's photos for the main job."""
from .convert import (FORMATS, config_lines, convert_splits, read_class_file,
                      read_split)
from .records import (BACKGROUND_NAMES, DIFFICULT_MODES, BoxRecord,
                      ImageRecord, class_list, summarize, to_coco)

__all__ = [
    'FORMATS', 'BACKGROUND_NAMES', 'DIFFICULT_MODES', 'BoxRecord',
    'ImageRecord', 'class_list', 'config_lines', 'convert_splits',
    'read_class_file', 'read_split', 'summarize', 'to_coco'
]
