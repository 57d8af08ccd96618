"""The checkpoint hook's order of writes and deletions around save_best."""
import os

import pytest
from mmengine.fileio import get_file_backend
from mmengine.logging import MessageHub, MMLogger

from gentk.engine.hooks.checkpoint_hook import AtomicCheckpointHook


class SavingRunner:
    """What the hook touches of a runner; ``save_checkpoint`` writes a file
    and notes which best checkpoints existed at that moment."""

    def __init__(self, work_dir, fail_on=None):
        self.work_dir, self.epoch, self.iter = str(work_dir), 0, 0
        self.message_hub = MessageHub(f'hub-{work_dir}')  # fresh: no best score yet
        self.logger = MMLogger.get_instance('test_checkpoint_hook')
        self.fail_on, self.seen = fail_on, []

    def save_checkpoint(self, out_dir, filename, *args, **kwargs):
        if filename == self.fail_on:
            raise KeyboardInterrupt(filename)  # killed during this save
        self.seen.append((filename, best_files(out_dir)))
        with open(os.path.join(out_dir, filename), 'w') as f:
            f.write(filename)


def best_files(folder):
    return sorted(n for n in os.listdir(folder) if n.startswith('best_'))


def hook_for(runner):
    hook = AtomicCheckpointHook(interval=1, by_epoch=False, save_best='psnr',
                                rule='greater')
    hook.out_dir = runner.work_dir
    hook.file_backend = get_file_backend(runner.work_dir)
    hook.last_ckpt = os.path.join(runner.work_dir, 'iter_1.pth')
    return hook


def test_the_previous_best_goes_only_after_the_new_one_is_written(tmp_path):
    runner = SavingRunner(tmp_path)
    hook = hook_for(runner)
    runner.iter = 1
    hook._save_best_checkpoint(runner, {'psnr': 10.0})
    assert best_files(tmp_path) == ['best_psnr_iter_1.pth']

    runner.iter = 2
    hook._save_best_checkpoint(runner, {'psnr': 12.0})
    # The new best and the checkpoint recording it were written while the
    # old best was still on disk; afterwards only the new one is left.
    assert runner.seen[-2:] == [
        ('best_psnr_iter_2.pth', ['best_psnr_iter_1.pth']),
        ('iter_2.pth', ['best_psnr_iter_1.pth', 'best_psnr_iter_2.pth'])]
    assert best_files(tmp_path) == ['best_psnr_iter_2.pth']
    assert type(hook.file_backend).__name__ != '_DeferredRemovals'

    runner.iter = 3
    hook._save_best_checkpoint(runner, {'psnr': 11.0})  # not better
    assert best_files(tmp_path) == ['best_psnr_iter_2.pth']


def test_a_kill_while_the_new_best_is_written_keeps_the_old_best(tmp_path):
    runner = SavingRunner(tmp_path)
    hook = hook_for(runner)
    runner.iter = 1
    hook._save_best_checkpoint(runner, {'psnr': 10.0})
    runner.iter, runner.fail_on = 2, 'best_psnr_iter_2.pth'
    with pytest.raises(KeyboardInterrupt):
        hook._save_best_checkpoint(runner, {'psnr': 12.0})
    assert best_files(tmp_path) == ['best_psnr_iter_1.pth']
    assert type(hook.file_backend).__name__ != '_DeferredRemovals'


def test_a_mistyped_argument_fails_when_the_hook_is_built():
    with pytest.raises(ValueError, match=r"unexpected argument\(s\) \['intervall'\]"):
        AtomicCheckpointHook(intervall=3)
