"""A run killed with SIGKILL resumes from its last checkpoint and ends with
exactly the weights, optimiser and scheduler state of an uninterrupted run."""
import os
import signal

import torch

from gentk.utils import load_weights
from tiny_config import run_tool, write_tiny_config


def train(config, work_dir, *extra, check=True):
    return run_tool(['tools/train.py', config, '--work-dir', str(work_dir),
                     *extra], check=check)


# Three epochs of the tiny set's 6 samples, a checkpoint after each.
BY_EPOCH = """
train_cfg = dict(_delete_=True, type='EpochBasedTrainLoop', max_epochs=3,
                 val_interval=10 ** 6)
train_dataloader['sampler'] = dict(type='DefaultSampler', shuffle=True)
default_hooks['checkpoint'].update(by_epoch=True, interval=1)
log_processor = dict(by_epoch=True)
"""


# The iteration loop over a finite sampler of 3 samples: at each new pass
# the DataLoader draws a seed from torch.
FINITE_SAMPLER = """
train_dataloader['sampler'] = dict(type='DefaultSampler', shuffle=True)
train_dataloader['dataset']['num_samples'] = 3
"""


# Validation every 2 iterations, keeping the best checkpoint: a better
# score saves the iteration's checkpoint again, inside the validation.
VALIDATED = """
train_cfg = dict(max_iters=8, val_interval=2)
val_cfg = dict(type='ValLoop')
val_dataloader = dict(num_workers=0, persistent_workers=False,
                      dataset=dict(num_samples=2, height=32, width=64))
val_evaluator = dict(type='PairedImageMetric')
default_hooks['checkpoint'].update(save_best='paired/psnr', rule='greater')
"""


def config_in(folder, pix2pix, by_epoch, extra_hooks=(), finite=False,
              validated=False):
    folder.mkdir(exist_ok=True)
    config = write_tiny_config(folder, pix2pix=pix2pix, extra_hooks=extra_hooks)
    with open(config, 'a') as f:
        f.write(BY_EPOCH if by_epoch else FINITE_SAMPLER if finite else '')
        f.write(VALIDATED if validated else '')
    return config


def kill_and_resume(tmp_path, pix2pix=False, by_epoch=False, kill_at=5,
                    finite=False, validated=False):
    """An uninterrupted run, and one killed after iteration ``kill_at`` (9
    by epoch) and resumed from the checkpoint before: their work dirs."""
    straight, killed = tmp_path / 'straight', tmp_path / 'killed'
    config = config_in(tmp_path, pix2pix, by_epoch, finite=finite,
                       validated=validated)
    train(config, straight)

    kill = dict(type='KillAtIterHook', at_iter=9 if by_epoch else kill_at)
    killing = config_in(tmp_path / 'kill', pix2pix, by_epoch, finite=finite,
                        validated=validated, extra_hooks=[kill])
    proc = train(killing, killed, check=False)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    last, resumed_from = (('epoch_3.pth', 'epoch_1.pth') if by_epoch else
                          ('iter_8.pth', f'iter_{kill_at - 1}.pth'))
    assert not (killed / last).exists()
    assert (killed / resumed_from).exists()

    resumed = train(config, killed, '--resume')
    assert 'Resuming from' in resumed.stdout + resumed.stderr
    # The metainfo it saved is the dataset's: no warning of a difference.
    assert 'dataset metainfo' not in resumed.stdout + resumed.stderr
    return straight, killed


def assert_same_training_state(straight, killed, last='iter_8.pth', iters=8):
    a = load_weights(str(straight / last))
    b = load_weights(str(killed / last))   # weights_only works on ours
    assert a['meta']['iter'] == b['meta']['iter'] == iters
    assert a['state_dict'].keys() == b['state_dict'].keys()
    for key in a['state_dict']:
        assert torch.equal(a['state_dict'][key], b['state_dict'][key]), key
    for role in ('generator', 'discriminator'):
        sa = a['optimizer'][role]['state']
        sb = b['optimizer'][role]['state']
        assert sa.keys() == sb.keys()
        for idx in sa:
            for name in sa[idx]:
                assert torch.equal(sa[idx][name], sb[idx][name]), (role, idx, name)
        assert (a['optimizer'][role]['param_groups'][0]['lr']
                == b['optimizer'][role]['param_groups'][0]['lr'])
    assert a['param_schedulers'] == b['param_schedulers']
    # the fixed sample inputs survive the resume: same final grid
    assert (straight / 'samples' / 'final.png').read_bytes() == \
        (killed / 'samples' / 'final.png').read_bytes()


def test_killed_run_resumes_to_identical_state(tmp_path):
    straight, killed = kill_and_resume(tmp_path)
    assert_same_training_state(straight, killed)
    # no temporary checkpoint files left by the atomic writer
    assert not [p for p in os.listdir(killed) if p.startswith('.tmp-')]


def test_a_resumed_run_draws_the_same_random_numbers(tmp_path):
    """pix2pix draws random numbers in training (dropout), in its sample
    grids (test-time dropout) and in its data jitter: the checkpoint
    carries the generators' states, and the grid written at iteration 4
    draws on a copy of them. Resumed from iteration 4, the replay of the
    4 batches before starts a second pass over the 3 samples: torch's state
    must come back after it."""
    straight, killed = kill_and_resume(tmp_path, pix2pix=True, finite=True)
    assert_same_training_state(straight, killed)


def test_a_resumed_run_with_save_best_draws_the_same_random_numbers(tmp_path):
    """The first validation's score is the best so far: its iteration's
    checkpoint is saved again during the validation, and must carry the
    training run's generator states, not the ones validation has moved."""
    straight, killed = kill_and_resume(tmp_path, pix2pix=True, kill_at=3,
                                       validated=True)
    assert_same_training_state(straight, killed)
    best = [n for n in os.listdir(killed) if n.startswith('best_')]
    assert best
    # A best checkpoint holds no optimiser state: not one to resume from.
    proc = train(config_in(tmp_path, True, False, validated=True),
                 tmp_path / 'other', '--resume', str(killed / best[0]),
                 check=False)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert 'holds no optimiser state' in proc.stderr


def test_a_run_resumed_at_an_epoch_draws_the_same_random_numbers(tmp_path):
    """By epoch, the data transforms' generators (numpy: the flips and
    crops, here in the main process) come back from the checkpoint too."""
    straight, killed = kill_and_resume(tmp_path, pix2pix=True, by_epoch=True)
    assert_same_training_state(straight, killed, 'epoch_3.pth', iters=18)


def keeping_one_checkpoint(folder, extra_hooks=()):
    config = config_in(folder, False, False, extra_hooks=extra_hooks)
    with open(config, 'a') as f:
        f.write("default_hooks['checkpoint']['max_keep_ckpts'] = 1\n")
    return config


def killed_in_the_save_of_iteration_4(tmp_path, hook):
    work = tmp_path / 'work'
    config = keeping_one_checkpoint(tmp_path / 'kill', [
        dict(type=hook, at_iter=4)])
    proc = train(config, work, check=False)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    return work


def test_a_kill_during_a_save_keeps_the_last_checkpoint(tmp_path):
    """With max_keep_ckpts=1, mmengine's hook deletes the old checkpoint
    before writing the new one; gentk's deletes it only after."""
    work = killed_in_the_save_of_iteration_4(tmp_path, 'KillMidSaveHook')
    names = sorted(os.listdir(work))
    assert 'iter_2.pth' in names and 'iter_4.pth' not in names, names
    assert [n for n in names if n.startswith('.tmp-')], names  # the partial
    assert (work / 'last_checkpoint').read_text() == str(work / 'iter_2.pth')

    resumed = train(config_in(tmp_path, False, False), work, '--resume')
    assert f'Resuming from {work / "iter_2.pth"}' in resumed.stdout + resumed.stderr
    names = sorted(os.listdir(work))
    assert 'iter_8.pth' in names
    assert not [n for n in names if n.startswith('.tmp-')], names


def test_a_kill_before_the_expired_checkpoint_goes_is_tidied_up(tmp_path):
    work = killed_in_the_save_of_iteration_4(tmp_path, 'KillAfterSaveHook')
    assert sorted(n for n in os.listdir(work) if n.endswith('.pth')) == \
        ['iter_2.pth', 'iter_4.pth']
    train(keeping_one_checkpoint(tmp_path / 'resume'), work, '--resume')
    assert sorted(n for n in os.listdir(work) if n.endswith('.pth')) == \
        ['iter_8.pth']


def test_resume_refuses_a_checkpoint_of_another_model(tmp_path):
    """The optimiser's moments load by position: a fused Adam fed moments
    of other shapes corrupts memory, so the weights are checked first."""
    config = config_in(tmp_path, False, False)
    wider = tmp_path / 'wider'
    train(config, wider, '--cfg-options', 'train_cfg.max_iters=2',
          'model.generator.base_channels=16')
    proc = train(config, tmp_path / 'run', '--resume', str(wider / 'iter_2.pth'),
                 check=False)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert 'was not written by a run of this config' in proc.stderr
    assert '(16, 36, 7, 7) in the file, (8, 36, 7, 7) here' in proc.stderr

    weights_only = tmp_path / 'weights.pth'
    torch.save(load_weights(str(wider / 'iter_2.pth'))['state_dict'],
               weights_only)
    proc = train(config, tmp_path / 'run', '--resume', str(weights_only),
                 check=False)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert 'is not a training checkpoint' in proc.stderr
    assert 'load_from' in proc.stderr


def test_resume_in_an_empty_work_dir_keeps_load_from(tmp_path):
    """`--resume` on a fine-tuning config whose work dir holds no
    checkpoint yet starts from load_from, as the same command without
    --resume would, instead of from random weights."""
    # mmengine's EMAHook saves the averaged weights as the state dict and
    # swaps the raw ones back in on a resume only.
    config = config_in(tmp_path, False, False, extra_hooks=[dict(type='EMAHook')])
    train(config, tmp_path / 'pretrained', '--cfg-options',
          'train_cfg.max_iters=2')
    pretrained = tmp_path / 'pretrained' / 'iter_2.pth'
    finetune = config_in(tmp_path / 'finetune_cfg', False, False, extra_hooks=[
        dict(type='DumpRankWeightsHook'), dict(type='EMAHook')])
    proc = train(finetune, tmp_path / 'finetune', '--resume', '--cfg-options',
                 'train_cfg.max_iters=2', f'load_from={pretrained}')
    log = proc.stdout + proc.stderr
    assert f'initialising from load_from {pretrained}' in log
    assert 'Resuming from' not in log
    start = torch.load(tmp_path / 'finetune' / 'rank0_start.pth',
                       weights_only=True)
    weights = load_weights(str(pretrained))['state_dict']
    for key in ('generator.stem.conv.weight', 'discriminator.discriminators.'
                '0.blocks.0.conv.weight'):
        assert torch.equal(start[key], weights[key]), key


def test_a_resume_says_what_the_config_no_longer_decides(tmp_path):
    """Schedulers resume as saved: a schedule changed in the config since
    is not the one that runs, and a run resumed at its end trains nothing.
    Both are said, not left to be found in the learning rates."""
    config = config_in(tmp_path, False, False)
    work = tmp_path / 'w'
    train(config, work, '--cfg-options', 'train_cfg.max_iters=4')
    proc = train(config, work, '--resume', '--cfg-options',
                 'param_scheduler.0.begin=6', 'param_scheduler.0.end=12')
    out = proc.stdout + proc.stderr
    assert "schedule (begin=4, end=8) replaces the config's (begin=6, end=12)" in out
    assert 'nothing left to train' not in out
    proc = train(config, work, '--resume')
    assert 'resumed at 8 of 8: nothing left to train' in proc.stdout + proc.stderr


def test_a_fresh_run_beside_earlier_checkpoints_does_not_resume_them(tmp_path):
    """A run started without --resume in a work dir that holds another
    run's checkpoints says so; killed before its own first save, its
    --resume starts afresh rather than continuing the other run. Once it
    has saved, --resume continues it; tools/test.py leaves the pointer."""
    config = config_in(tmp_path, False, False)
    work = tmp_path / 'work'
    train(config, work, '--cfg-options', 'train_cfg.max_iters=4')
    assert (work / 'iter_4.pth').exists()
    killing = config_in(tmp_path / 'kill', False, False, extra_hooks=[
        dict(type='KillAtIterHook', at_iter=1)])
    proc = train(killing, work, check=False)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    log = proc.stdout + proc.stderr
    assert 'holds 2 training checkpoints of an earlier run (e.g. iter_4.pth)' \
        in log
    run_tool(['tools/test.py', config, str(work / 'iter_4.pth'),
              '--work-dir', str(work)])
    resumed = train(config, work, '--resume', '--cfg-options',
                    'train_cfg.max_iters=2')
    log = resumed.stdout + resumed.stderr
    assert 'No checkpoint to resume' in log and 'Resuming from' not in log
    again = train(config, work, '--resume', '--cfg-options',
                  'train_cfg.max_iters=4')
    assert f'Resuming from {work / "iter_2.pth"}' in again.stdout + again.stderr
