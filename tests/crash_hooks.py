"""A hook that kills its own training process with SIGKILL (tests).

``tests/test_tools/test_crash_resume.py`` adds ``dict(type='SigkillHook')``
to the tiny config and starts ``tools/train.py``; environment variables
choose the moment, so that the ``--resume`` run of the same config trains
on undisturbed:

- ``YOLOX_MM_TEST_SIGKILL_AT_ITER=N``: after the 0-based iteration ``N``
  (in the middle of an epoch, not at a checkpoint).
- ``YOLOX_MM_TEST_SIGKILL_WRITING=NAME``: while the file whose name
  contains ``NAME`` (e.g. ``epoch_2.pth``) is written through mmengine's
  local file backend (what ``Runner.save_checkpoint`` uses): half of its
  bytes are written and flushed, then the process is killed, as a
  ``kill -9`` during a checkpoint write would leave it.
"""
import os
import os.path as osp
import signal

from mmengine.fileio.backends.local_backend import LocalBackend
from mmengine.hooks import Hook

from yolox_mm.registry import HOOKS

AT_ITER = 'YOLOX_MM_TEST_SIGKILL_AT_ITER'
WRITING = 'YOLOX_MM_TEST_SIGKILL_WRITING'


def _sigkill_self() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


@HOOKS.register_module()
class SigkillHook(Hook):
    """SIGKILL this process at the moment the environment names."""

    priority = 'LOWEST'

    def before_train(self, runner) -> None:
        name = os.environ.get(WRITING)
        if not name:
            return
        put = LocalBackend.put

        def put_then_die(backend, obj, filepath):
            if name not in osp.basename(str(filepath)):
                return put(backend, obj, filepath)
            with open(filepath, 'wb') as f:
                f.write(obj[:len(obj) // 2])
                f.flush()
                os.fsync(f.fileno())
            _sigkill_self()

        # only in this (test) training process, which dies anyway
        LocalBackend.put = put_then_die

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None) -> None:
        at_iter = os.environ.get(AT_ITER)
        if at_iter is not None and runner.iter == int(at_iter):
            _sigkill_self()
