"""Fixtures of the parity tests (helpers: ``builders.py``, ``megvii.py``)."""
import pytest
import torch

from .megvii import MEGVII_VERSION, import_megvii


@pytest.fixture(scope='session')
def megvii():
    """Megvii's ``yolox`` package (yolox-datamint 0.3.1), which ``make
    setup`` installs; a missing reference fails the test (a parity test
    that silently skips proves nothing)."""
    try:
        return import_megvii()
    except ImportError as err:
        pytest.fail(f'Megvii reference unavailable ({err}); install it with '
                    f'`pip install --no-deps yolox-datamint=={MEGVII_VERSION}'
                    ' loguru tabulate` (`make setup` does)')


@pytest.fixture(autouse=True)
def _seeded():
    """Every parity test starts from the same global RNG state (the model
    initialisations use it)."""
    torch.manual_seed(0)
