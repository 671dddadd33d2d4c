"""Suite-wide set-up and guards.

* Safe checkpoint loading is installed once for the session, as our
  launchers do (``tools/train.py``, ``tools/test.py``, the demos call
  :func:`yolox_mm.utils.install_safe_checkpoint_loading`; ``import
  yolox_mm`` does not, see ``tests/test_package/test_import_is_quiet.py``,
  which checks that in a fresh interpreter). In-process tests that train,
  resume or load Runner checkpoints (``HistoryBuffer`` in the message hub)
  run as the launchers would.
* A test that changes torch's thread count leaks it into every later test
  of the process (the parity tests' NMS outputs depend on it), so the count
  is checked after each test.
"""
import pytest
import torch


@pytest.fixture(autouse=True, scope='session')
def _safe_checkpoint_loading():
    from yolox_mm.utils import install_safe_checkpoint_loading
    install_safe_checkpoint_loading()


@pytest.fixture(autouse=True)
def _torch_threads_unchanged(request):
    threads = torch.get_num_threads()
    yield
    after = torch.get_num_threads()
    if after != threads:
        torch.set_num_threads(threads)
        pytest.fail(f'{request.node.nodeid} left torch at {after} threads '
                    f'(it had {threads}); restore it in the test')
