"""Suite-wide guard: a test that changes torch's thread count leaks it into
every later test of the process (the parity tests' NMS outputs depend on
it), so the count is checked after each test."""
import pytest
import torch


@pytest.fixture(autouse=True)
def _torch_threads_unchanged(request):
    threads = torch.get_num_threads()
    yield
    after = torch.get_num_threads()
    if after != threads:
        torch.set_num_threads(threads)
        pytest.fail(f'{request.node.nodeid} left torch at {after} threads '
                    f'(it had {threads}); restore it in the test')
