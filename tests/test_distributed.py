"""Two processes on the gloo backend (CPU) train in lock-step: both ranks end
with identical weights, which differ from a fresh initialisation."""
import socket

import torch

from tiny_config import run_tool, write_tiny_config


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def test_two_process_training_keeps_ranks_identical(tmp_path):
    config = write_tiny_config(tmp_path, max_iters=4, checkpoint_interval=4,
                               extra_hooks=[dict(type='DumpRankWeightsHook')])
    work_dir = tmp_path / 'work'
    run_tool(None, command=['bash', 'tools/dist_train.sh', config, '2',
                            '--work-dir', str(work_dir)],
             env={'PORT': str(free_port())}, timeout=400)
    rank0 = torch.load(work_dir / 'rank0.pth', weights_only=True)
    rank1 = torch.load(work_dir / 'rank1.pth', weights_only=True)
    assert rank0.keys() == rank1.keys()
    for key in rank0:
        assert torch.equal(rank0[key], rank1[key]), key
    assert int(rank0['num_iters']) == 4
    # the ranks did train: every weight left its initial value
    start = torch.load(work_dir / 'rank0_start.pth', weights_only=True)
    trained = [k for k in rank0 if k.endswith('.weight')
               and not torch.equal(rank0[k], start[k])]
    assert trained == [k for k in rank0 if k.endswith('.weight')]
    ckpt = torch.load(work_dir / 'iter_4.pth', weights_only=True)
    assert torch.equal(ckpt['state_dict']['generator.stem.conv.weight'],
                       rank0['generator.stem.conv.weight'])
