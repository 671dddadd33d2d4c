"""mmengine's CheckpointHook, made safe against a crash while saving."""
import glob
import os
import os.path as osp
from typing import List

from mmengine.dist import is_main_process
from mmengine.fileio import LocalBackend
from mmengine.hooks import CheckpointHook
from mmengine.logging import print_log

from yolox_mm.engine.atomic_write import (commit_file, temp_name,
                                          write_text_atomic)
from yolox_mm.registry import HOOKS


@HOOKS.register_module()
class AtomicCheckpointHook(CheckpointHook):
    """``CheckpointHook`` whose files are always complete on local disks.

    mmengine 0.10.7's ``CheckpointHook`` (``_save_checkpoint_with_step``)
    is not crash-safe. A ``kill -9``, an OOM kill or a preemption at the
    wrong moment leaves:

    1. a truncated ``epoch_N.pth``: ``LocalBackend.put`` writes it in place
       (``open(path, 'wb')``), and loading it fails with torch's zip error;
    2. no complete checkpoint at all with ``max_keep_ckpts``: the oldest
       kept checkpoint is deleted *before* the new one is written, so with
       ``max_keep_ckpts=1`` (the tree config) a crash during the write
       loses the only checkpoint, while ``last_checkpoint`` still names the
       deleted file;
    3. a truncated ``last_checkpoint`` (also written in place).

    Here, for a local ``out_dir`` (mmengine's ``LocalBackend``, no
    ``file_client_args``), the same arguments and files, in another order:

    1. the checkpoint is written to ``.epoch_N.pth.tmp`` in the same
       directory (through ``runner.save_checkpoint``, so every
       ``before_save_checkpoint`` hook runs as usual), flushed to disk and
       renamed to ``epoch_N.pth`` (:func:`~yolox_mm.engine.atomic_write.
       commit_file`: ``fsync`` + ``os.replace``);
    2. then ``last_checkpoint`` is replaced the same way;
    3. only then are outdated checkpoints (``max_keep_ckpts``) deleted.

    So at every moment ``last_checkpoint`` names a complete checkpoint (or
    does not exist yet) and ``--resume`` continues from the last complete
    one. A crash between 2 and 3 leaves one outdated checkpoint behind; a
    crash during 1 leaves a ``.epoch_N.pth.tmp``, removed (with a log line)
    in :meth:`before_train` of the next run in that directory.

    Other backends (``backend_args`` naming one, ``out_dir`` on a URL, or
    ``file_client_args``) keep mmengine's behaviour. The best checkpoints
    (``save_best``) are written by mmengine's code, not atomically; they
    are not used by ``--resume``.

    Args: those of mmengine's ``CheckpointHook``.
    """

    def before_train(self, runner) -> None:
        """mmengine's set-up, then remove temporary files of a crash."""
        super().before_train(runner)
        if not self._atomic() or not is_main_process():
            return
        ext = osp.splitext(self.filename_tmpl)[1]
        stale = glob.glob(temp_name(osp.join(glob.escape(self.out_dir),
                                             f'*{ext}')))
        stale += glob.glob(temp_name(osp.join(glob.escape(runner.work_dir),
                                              'last_checkpoint')))
        for path in stale:
            os.remove(path)
            print_log(f'Removed {path}, the unfinished write of a previous '
                      'run that stopped while saving a checkpoint.',
                      logger='current')

    def _atomic(self) -> bool:
        return (self.file_client_args is None
                and isinstance(self.file_backend, LocalBackend))

    def _save_checkpoint_with_step(self, runner, step, meta) -> None:
        """Save ``filename_tmpl.format(step)``: temporary file, rename,
        ``last_checkpoint``, then delete outdated ones (see the class)."""
        if not self._atomic():
            super()._save_checkpoint_with_step(runner, step, meta)
            return
        outdated = self._keep_step(runner, step)
        filename = self.filename_tmpl.format(step)
        self.last_ckpt = osp.join(self.out_dir, filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        tmp_path = temp_name(self.last_ckpt)
        runner.save_checkpoint(  # a no-op on ranks other than 0
            self.out_dir,
            osp.basename(tmp_path),
            save_optimizer=self.save_optimizer,
            save_param_scheduler=self.save_param_scheduler,
            meta=meta,
            by_epoch=self.by_epoch,
            backend_args=self.backend_args,
            **self.args)
        if not is_main_process():
            return
        commit_file(tmp_path, self.last_ckpt)
        write_text_atomic(
            osp.join(runner.work_dir, 'last_checkpoint'), self.last_ckpt)
        for old_step in outdated:
            self._remove_step(old_step)

    def _keep_step(self, runner, step: int) -> List[int]:
        """Record ``step`` among the kept checkpoints (``keep_ckpt_ids`` in
        the message hub, as mmengine); return the steps that fall out."""
        if self.max_keep_ckpts <= 0:
            return []
        kept = self.keep_ckpt_ids
        if kept and kept[-1] == step:  # saved twice in one epoch (best)
            return []
        outdated = [kept.popleft()] if len(kept) == self.max_keep_ckpts \
            else []
        kept.append(step)
        runner.message_hub.update_info('keep_ckpt_ids', list(kept))
        return outdated

    def _remove_step(self, step: int) -> None:
        path = osp.join(self.out_dir, self.filename_tmpl.format(step))
        if osp.isfile(path):
            os.remove(path)
        elif osp.isdir(path):  # deepspeed saves directories
            self.file_backend.rmtree(path)
