"""Converters of public annotation formats to COCO json."""
