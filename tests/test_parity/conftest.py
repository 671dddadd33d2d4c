"""Fixtures of the parity tests (helpers: ``builders.py``, ``megvii.py``)."""
import pytest
import torch

from .megvii import MEGVII_VERSION, import_megvii


@pytest.fixture(scope='session')
def megvii():
    """Megvii's ``yolox`` package (yolox-datamint 0.3.1); the test is
    skipped, with the install command, if it is missing."""
    try:
        return import_megvii()
    except ImportError as err:
        pytest.skip(f'Megvii reference unavailable ({err}); install it with '
                    f'`pip install --no-deps yolox-datamint=={MEGVII_VERSION}'
                    ' loguru tabulate`')


@pytest.fixture(autouse=True)
def _seeded():
    """Every parity test starts from the same global RNG state (the model
    initialisations use it)."""
    torch.manual_seed(0)
