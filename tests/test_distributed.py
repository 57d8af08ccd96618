"""Two processes on the gloo backend (CPU) train in lock-step: both ranks end
with identical weights, which differ from a fresh initialisation."""
import socket

import torch

from tiny_config import run_tool, write_tiny_config


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def train_two_processes(tmp_path, pix2pix=False, *options, work_dir=None,
                        checkpoint_interval=4, kill_at=None):
    """Rank 0's and rank 1's weights and buffers after a 4-iteration
    2-process run, and its work dir (with ``kill_at``: both processes
    SIGKILLed after that iteration, and nothing returned)."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    hooks = [dict(type='DumpRankWeightsHook')]
    if kill_at:
        hooks.append(dict(type='KillAtIterHook', at_iter=kill_at))
    config = write_tiny_config(tmp_path, max_iters=4,
                               checkpoint_interval=checkpoint_interval,
                               extra_hooks=hooks, pix2pix=pix2pix)
    work_dir = work_dir or tmp_path / 'work'
    proc = run_tool(None, command=['bash', 'tools/dist_train.sh', config, '2',
                                   '--work-dir', str(work_dir), *options],
                    env={'PORT': str(free_port())}, timeout=400,
                    check=not kill_at)
    if kill_at:
        assert proc.returncode != 0, proc.stdout[-2000:]
        return None, work_dir
    rank0 = torch.load(work_dir / 'rank0.pth', weights_only=True)
    rank1 = torch.load(work_dir / 'rank1.pth', weights_only=True)
    assert rank0.keys() == rank1.keys()
    for key in rank0:
        assert torch.equal(rank0[key], rank1[key]), key
    return rank0, work_dir


def test_two_process_training_keeps_ranks_identical(tmp_path):
    rank0, work_dir = train_two_processes(tmp_path)
    assert int(rank0['num_iters']) == 4
    # the ranks did train: every weight left its initial value
    start = torch.load(work_dir / 'rank0_start.pth', weights_only=True)
    trained = [k for k in rank0 if k.endswith('.weight')
               and not torch.equal(rank0[k], start[k])]
    assert trained == [k for k in rank0 if k.endswith('.weight')]
    ckpt = torch.load(work_dir / 'iter_4.pth', weights_only=True)
    assert torch.equal(ckpt['state_dict']['generator.stem.conv.weight'],
                       rank0['generator.stem.conv.weight'])
    # Resumed by two processes, both ranks start from the checkpoint's
    # weights (the wrapped networks' keys must meet the file's).
    train_two_processes(tmp_path, False, '--resume',
                        '--cfg-options', 'train_cfg.max_iters=5')
    for rank in (0, 1):
        start = torch.load(work_dir / f'rank{rank}_start.pth', weights_only=True)
        for key, value in ckpt['state_dict'].items():
            assert torch.equal(start[key], value), (rank, key)


def test_batch_norm_statistics_end_the_same_on_every_rank(tmp_path):
    """pix2pix's batch norms: each rank updates its running statistics
    with its own batches (no SyncBatchNorm on CPU); the ranks end with rank
    0's, the ones the checkpoint holds."""
    # sync_bn (as the Cityscapes PSPNet recipe sets it) needs a GPU: on
    # CPU it is left out, with a warning, instead of failing.
    rank0, work_dir = train_two_processes(tmp_path, True, '--cfg-options',
                                          'sync_bn=torch')
    stats = [k for k in rank0 if k.endswith('running_mean')]
    assert stats
    ckpt = torch.load(work_dir / 'iter_4.pth', weights_only=True)
    for key in stats:
        assert torch.equal(ckpt['state_dict'][key], rank0[key]), key


def test_ranks_with_their_own_seeds_resume_their_own_random_states(tmp_path):
    """diff_rank_seed=True: each rank draws its own dropout masks, so the
    checkpoint holds every rank's generators and a killed 2-process run
    resumes to the weights of an uninterrupted one."""
    options = ('--cfg-options', 'randomness.diff_rank_seed=True')
    straight, _ = train_two_processes(tmp_path / 'straight', True, *options,
                                      checkpoint_interval=2)
    _, work = train_two_processes(tmp_path / 'killed', True, *options,
                                  checkpoint_interval=2, kill_at=3)
    ckpt = torch.load(work / 'iter_2.pth', weights_only=True)
    rank_states = ckpt['rank_random_states']
    assert len(rank_states) == 2
    assert not torch.equal(rank_states[0]['torch'], rank_states[1]['torch'])
    assert torch.equal(rank_states[0]['torch'], ckpt['random_states']['torch'])

    resumed, _ = train_two_processes(tmp_path / 'resumed', True, *options,
                                     '--resume', work_dir=work,
                                     checkpoint_interval=2)
    for key in straight:
        assert torch.equal(resumed[key], straight[key]), key
