"""Fixtures of the analysis-tool tests (helpers: ``tiny_data.py``)."""
from types import SimpleNamespace

import pytest

from .tiny_data import (write_tiny_checkpoint, write_tiny_config,
                        write_tiny_dataset)


@pytest.fixture(scope='package')
def tiny(tmp_path_factory):
    """``root`` (images, train.json, val.json), ``config`` and
    ``checkpoint`` of a tiny two-class YOLOX-nano."""
    root = write_tiny_dataset(tmp_path_factory.mktemp('tiny'))
    config = write_tiny_config(root)
    checkpoint = write_tiny_checkpoint(config, root / 'tiny.pth')
    return SimpleNamespace(root=root, config=config, checkpoint=checkpoint)
