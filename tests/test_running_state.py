"""Metrics with one running state per process leave out the samples that
mmengine's DefaultSampler repeats for the last ranks, so their scores do
not depend on the number of processes (two gloo processes here)."""
import json
import os
import socket
import sys
from unittest import mock

import torch
import torch.multiprocessing as mp

from gentk.evaluation import running_state
from gentk.evaluation.fid import FrechetInceptionDistance

NUM_SAMPLES = 5      # two processes: 3 + 3 positions, one of them a repeat
BATCH_SIZE = 2


def samples():
    g = torch.Generator().manual_seed(0)
    return [dict(fake_img=torch.rand(3, 8, 8, generator=g) * 2 - 1,
                 gt_img=torch.rand(3, 8, 8, generator=g) * 2 - 1)
            for _ in range(NUM_SAMPLES)]


class SixFeatureFID(FrechetInceptionDistance):
    """FID on per-channel means and standard deviations instead of
    Inception features: the same running state, no weights needed."""

    def network(self, device):
        return lambda x, return_logits=False: torch.cat(
            [x.mean((2, 3)), x.std((2, 3))], 1)


def evaluate(rank_samples, weights):
    metric = SixFeatureFID(weights, quantize=False)
    for i in range(0, len(rank_samples), BATCH_SIZE):
        metric.process(None, rank_samples[i:i + BATCH_SIZE])
    return metric.evaluate(NUM_SAMPLES)


def worker(rank, world, port, weights, out):
    import torch.distributed as dist
    from mmengine.dataset import DefaultSampler
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    dist.init_process_group('gloo', rank=rank, world_size=world)
    data = samples()
    indices = list(DefaultSampler(list(range(NUM_SAMPLES)), shuffle=False))
    result = evaluate([data[i] for i in indices], weights)
    if rank == 0:
        with open(out, 'w') as f:
            json.dump(dict(result, indices=indices), f)
    dist.barrier()
    dist.destroy_process_group()


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def test_two_processes_score_as_one(tmp_path):
    weights = tmp_path / 'unused_weights.pth'
    weights.write_bytes(b'')
    alone = evaluate(samples(), str(weights))['FID/fid']
    out = tmp_path / 'rank0.json'
    # The spawned processes import this module from the tests folder.
    sys.path.insert(0, os.path.dirname(__file__))
    mp.spawn(worker, args=(2, free_port(), str(weights), str(out)), nprocs=2)
    result = json.loads(out.read_text())
    assert result['indices'] == [0, 2, 4]   # rank 1 gets 1, 3 and 0 again
    assert abs(result['FID/fid'] - alone) < 1e-9 * max(1.0, alone), \
        (result['FID/fid'], alone)


def test_which_last_samples_are_repeats():
    def repeats(world, seen_per_rank, size):
        flags = []
        for rank, seen in enumerate(seen_per_rank):
            with mock.patch.object(running_state, 'get_world_size',
                                   return_value=world), \
                    mock.patch.object(running_state, 'get_rank',
                                      return_value=rank):
                flags.append(running_state.is_sampler_repeat(seen, size))
        return flags

    assert repeats(1, [5], 5) == [False]
    assert repeats(2, [3, 3], 5) == [False, True]
    assert repeats(4, [3, 3, 3, 3], 10) == [False, False, True, True]
    assert repeats(4, [1, 1, 1, 1], 2) == [False, False, True, True]
    assert repeats(3, [2, 2, 2], 6) == [False, False, False]
