"""Fixtures of the deployment tests (helpers: ``detectors.py``)."""
from typing import List

import numpy as np
import pytest

from .detectors import synthetic_image


@pytest.fixture(scope='module')
def synthetic_images() -> List[np.ndarray]:
    return [synthetic_image(seed) for seed in (1, 2)]
