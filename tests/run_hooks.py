"""Hooks that tests inject into real training processes (via custom_imports)."""
import os
import os.path as osp
import signal

import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from gentk.engine.checkpoint_state import bare_state_dict
from gentk.registry import HOOKS


@HOOKS.register_module()
class KillAtIterHook(Hook):
    """SIGKILL this process right after iteration ``at_iter`` (1-based)."""

    priority = 'LOWEST'

    def __init__(self, at_iter: int):
        self.at_iter = at_iter

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        if runner.iter + 1 == self.at_iter:
            os.kill(os.getpid(), signal.SIGKILL)


@HOOKS.register_module()
class DumpRankWeightsHook(Hook):
    """Each rank writes its model weights before training to
    WORK_DIR/rank{r}_start.pth and after it to WORK_DIR/rank{r}.pth."""

    def before_train(self, runner):
        self._dump(runner, f'rank{runner.rank}_start.pth')

    def after_train(self, runner):
        self._dump(runner, f'rank{runner.rank}.pth')

    @staticmethod
    def _dump(runner, name):
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        state = {k: v.detach().cpu() for k, v in bare_state_dict(model).items()}
        torch.save(state, osp.join(runner.work_dir, name))


class _KillInSave(Hook):
    """Arms a SIGKILL inside the save of the checkpoint of ``at_iter``."""

    def __init__(self, at_iter: int):
        self.at_iter = at_iter

    def before_save_checkpoint(self, runner, checkpoint):
        if checkpoint['meta']['iter'] == self.at_iter:
            self.arm()

    def arm(self):
        raise NotImplementedError


@HOOKS.register_module()
class KillMidSaveHook(_KillInSave):
    """Dies halfway through writing the checkpoint: after the checkpoint
    hook's bookkeeping, with a partial temporary file on disk."""

    def arm(self):
        import gentk.utils.checkpoint_io as checkpoint_io

        def partial_write_then_die(obj, f):
            f.write(b'\0' * 4096)
            f.flush()
            os.kill(os.getpid(), signal.SIGKILL)
        checkpoint_io.torch.save = partial_write_then_die


@HOOKS.register_module()
class KillAfterSaveHook(_KillInSave):
    """Dies right after the checkpoint and the ``last_checkpoint`` pointer
    are written, before the checkpoint hook deletes the expired one."""

    def arm(self):
        import gentk.engine.hooks.checkpoint_hook as checkpoint_hook
        write = checkpoint_hook.atomic_write_text

        def write_then_die(text, path):
            write(text, path)
            os.kill(os.getpid(), signal.SIGKILL)
        checkpoint_hook.atomic_write_text = write_then_die
