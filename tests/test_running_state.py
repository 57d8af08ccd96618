"""Metrics with one running state per process leave out the samples that
mmengine's DefaultSampler repeats for the last ranks, and draw each
sample's random numbers from its index, so their scores do not depend on
the number of processes (two gloo processes here)."""
import json
import os
import socket
import sys
from unittest import mock

import torch
import torch.multiprocessing as mp

from gentk.evaluation import running_state
from gentk.evaluation.fid import (FrechetInceptionDistance,
                                  KernelInceptionDistance)
from gentk.evaluation.inception_score import InceptionScore
from gentk.evaluation.ms_ssim import MSSSIMDiversity
from gentk.evaluation.swd import SlicedWassersteinDistance

NUM_SAMPLES = 7      # two processes: 4 + 4 positions, one of them a repeat
BATCH_SIZE = 2


def samples():
    g = torch.Generator().manual_seed(0)
    return [dict(fake_img=torch.rand(3, 32, 32, generator=g) * 2 - 1,
                 gt_img=torch.rand(3, 32, 32, generator=g) * 2 - 1)
            for _ in range(NUM_SAMPLES)]


def six_features(x, return_logits=False):
    """Per-channel means and standard deviations instead of Inception
    features (and 1008 logits made from them): the metrics' own running
    states, no weights needed."""
    features = torch.cat([x.mean((2, 3)), x.std((2, 3))], 1)
    if not return_logits:
        return features
    projection = torch.randn(6, 1008, generator=torch.Generator().manual_seed(0))
    return features, features @ projection


class SixFeatures:
    def network(self, device):
        return six_features


class SixFeatureFID(SixFeatures, FrechetInceptionDistance):
    pass


class SixFeatureKID(SixFeatures, KernelInceptionDistance):
    pass


class SixFeatureIS(SixFeatures, InceptionScore):
    pass


def metrics(weights):
    """Each running-state metric, drawing random numbers where it does:
    KID keeps 5 of 7 samples and compares subsets of 3, MS-SSIM keeps 4
    images and draws pairs, SWD draws patches and keeps 40 of them."""
    return [SixFeatureFID(weights, quantize=False),
            SixFeatureKID(weights, quantize=False, max_samples=5,
                          subset_size=3, num_subsets=4),
            SixFeatureIS(weights, splits=3, quantize=False),
            MSSSIMDiversity(max_images=4, num_pairs=6, resolution=32),
            SlicedWassersteinDistance(patches_per_image=8, max_descriptors=40,
                                      num_projections=16)]


def evaluate(rank_samples, weights):
    scores = {}
    for metric in metrics(weights):
        for i in range(0, len(rank_samples), BATCH_SIZE):
            # Copies: a metric may add 'sample_idx' to the dicts.
            batch = [dict(s) for s in rank_samples[i:i + BATCH_SIZE]]
            metric.process(None, batch)
        scores.update(metric.evaluate(NUM_SAMPLES))
    return scores


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
    alone = evaluate(samples(), str(weights))
    assert len(alone) == 1 + 2 + 2 + 1 + 3   # FID, KID, IS, MS-SSIM, SWD
    out = tmp_path / 'rank0.json'
    # The spawned processes import this module from the tests folder.
    sys.path.insert(0, os.path.dirname(__file__))
    mp.spawn(worker, args=(2, free_port(), str(weights), str(out)), nprocs=2)
    result = json.loads(out.read_text())
    assert result.pop('indices') == [0, 2, 4, 6]   # rank 1: 1, 3, 5, 0 again
    assert result.keys() == alone.keys()
    for key, value in alone.items():
        assert abs(result[key] - value) < 1e-9 * max(1.0, abs(value)), \
            (key, result[key], value)


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


def test_data_elements_get_an_index_too(tmp_path):
    """Direct callers may pass data elements instead of dicts: they carry
    their index in the metainfo (given, or the sampler's position)."""
    from gentk.structures import GenDataSample
    weights = tmp_path / 'unused_weights.pth'
    weights.write_bytes(b'')
    data = samples()[:4]
    as_dicts = SixFeatureKID(str(weights), quantize=False, max_samples=3,
                             subset_size=2, num_subsets=3)
    as_elements = SixFeatureKID(str(weights), quantize=False, max_samples=3,
                                subset_size=2, num_subsets=3)
    elements = [GenDataSample(**s) for s in data]
    elements[3].set_metainfo(dict(sample_idx=3))
    as_dicts.process(None, [dict(s) for s in data])
    as_elements.process(None, elements)
    assert [e.sample_idx for e in elements] == [0, 1, 2, 3]
    assert as_elements.evaluate(4) == as_dicts.evaluate(4)
