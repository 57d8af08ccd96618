"""mmengine's CheckpointHook in an order that a kill cannot lose data in."""
import glob
import os
import os.path as osp
import re

from mmengine.dist import is_main_process
from mmengine.hooks import CheckpointHook as MMEngineCheckpointHook

from gentk.registry import HOOKS
from gentk.utils import atomic_write_text
from gentk.utils.checkpoint_io import TEMP_PREFIX


@HOOKS.register_module(name=['CheckpointHook', 'AtomicCheckpointHook'])
class AtomicCheckpointHook(MMEngineCheckpointHook):
    """mmengine's ``CheckpointHook`` (same arguments), writing in an order
    that never loses the last checkpoint.

    mmengine deletes the checkpoint that falls out of ``max_keep_ckpts``
    before it writes the new one, and then rewrites ``last_checkpoint`` in
    place: a kill in between leaves no checkpoint at all, or a pointer to a
    deleted file. Here the new checkpoint is written first (atomically, by
    ``GenRunner.save_checkpoint``), then ``last_checkpoint`` (atomically),
    and only then is the expired checkpoint deleted; a previous best
    checkpoint (``save_best``) likewise goes only once the new best is
    written. When training starts,
    it removes what a kill left behind: the temporary file of an
    interrupted save and, on a resume, an expired checkpoint that was not
    deleted yet.

    Registered in gentk's scope as ``CheckpointHook`` too, so every gentk
    config's ``default_hooks.checkpoint`` gets it.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # mmengine keeps unknown arguments for runner.save_checkpoint, which
        # takes none beyond its own: a typo would fail at the first save.
        if self.args:
            raise ValueError(
                f'CheckpointHook got unexpected argument(s) {sorted(self.args)} '
                '(default_hooks.checkpoint); it takes mmengine CheckpointHook\'s')

    def before_train(self, runner) -> None:
        super().before_train(runner)   # restores keep_ckpt_ids on a resume
        if not is_main_process():
            return
        for leftover in glob.glob(osp.join(self.out_dir, TEMP_PREFIX + '*')):
            os.remove(leftover)
        # A kill between a save and the delete leaves an expired checkpoint
        # that no kept list names any more: older than every kept one.
        if self.max_keep_ckpts > 0 and self.keep_ckpt_ids:
            oldest_kept = min(self.keep_ckpt_ids)
            pattern = re.compile(
                re.escape(self.filename_tmpl).replace(r'\{\}', r'(\d+)') + '$')
            for name in os.listdir(self.out_dir):
                match = pattern.match(name)
                if match and int(match.group(1)) < oldest_kept:
                    self._remove(name)

    def _save_checkpoint_with_step(self, runner, step, meta) -> None:
        expired = None
        if self.max_keep_ckpts > 0 and not (
                self.keep_ckpt_ids and self.keep_ckpt_ids[-1] == step):
            if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                expired = self.keep_ckpt_ids.popleft()
            # Recorded before the save, so the checkpoint knows what to keep.
            self.keep_ckpt_ids.append(step)
            runner.message_hub.update_info('keep_ckpt_ids',
                                           list(self.keep_ckpt_ids))
        filename = self.filename_tmpl.format(step)
        self.last_ckpt = osp.join(self.out_dir, filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        runner.save_checkpoint(
            self.out_dir, filename, self.file_client_args,
            save_optimizer=self.save_optimizer,
            save_param_scheduler=self.save_param_scheduler, meta=meta,
            by_epoch=self.by_epoch, backend_args=self.backend_args,
            **self.args)
        if not is_main_process():
            return
        atomic_write_text(self.last_ckpt,
                          osp.join(runner.work_dir, 'last_checkpoint'))
        if expired is not None:
            self._remove(self.filename_tmpl.format(expired))

    def _save_best_checkpoint(self, runner, metrics) -> None:
        # mmengine deletes the previous best before it writes the new one: a
        # kill in between left no best checkpoint. Its deletions wait here
        # until the new best and the checkpoint that records it are saved.
        backend = self.file_backend
        self.file_backend = _DeferredRemovals(backend)
        try:
            super()._save_best_checkpoint(runner, metrics)
        finally:
            deferred, self.file_backend = self.file_backend, backend
        deferred.carry_out()

    def _remove(self, filename: str) -> None:
        path = osp.join(self.out_dir, filename)
        if osp.isfile(path):
            os.remove(path)


class _DeferredRemovals:
    """A file backend whose ``remove`` and ``rmtree`` wait for
    ``carry_out``; everything else goes to the backend it wraps."""

    def __init__(self, backend):
        self._backend = backend
        self._pending = []

    def remove(self, path) -> None:
        self._pending.append((self._backend.remove, path))

    def rmtree(self, path) -> None:
        self._pending.append((self._backend.rmtree, path))

    def carry_out(self) -> None:
        for remove, path in self._pending:
            remove(path)
        self._pending.clear()

    def __getattr__(self, name):
        return getattr(self._backend, name)
