"""Bottom-k random subsets (KID's feature sample, SWD's descriptors, the
MS-SSIM reservoir): bounded, exact across merges, uniform, reproducible."""
import numpy as np
import pytest
import torch

from gentk.evaluation.random_subset import (RandomSubset, sample_generator,
                                            sample_keys)


def test_keeps_the_smallest_keys_within_bounded_memory():
    rows = torch.arange(1000.).view(-1, 1)
    keys = torch.rand(1000, dtype=torch.float64,
                      generator=torch.Generator().manual_seed(0))
    smallest = keys.topk(50, largest=False).indices   # in key order
    subset = RandomSubset(50)
    for start in range(0, 1000, 30):
        subset.add(rows[start:start + 30], keys[start:start + 30])
        # Held rows: capacity + a quarter of it + the batch being added.
        assert sum(len(k) for k in subset.keys) <= 50 + 12 + 30
        assert len(subset) == min(start + 30, 50)
    assert subset.seen == 1000 and len(subset) == 50
    # The smallest keys' rows, in key order.
    assert torch.equal(subset.values()[:, 0], smallest.float())
    torch.testing.assert_close(subset.keys[0], keys[smallest])


def test_merge_equals_the_subset_of_the_union():
    rows = torch.arange(1000).view(-1, 1)
    keys = torch.rand(1000, dtype=torch.float64,
                      generator=torch.Generator().manual_seed(1))
    whole = RandomSubset(50).add(rows, keys)
    left = RandomSubset(50).add(rows[:400], keys[:400])
    right = RandomSubset(50)
    for start in range(400, 1000, 70):
        right.add(rows[start:start + 70], keys[start:start + 70])
    merged = RandomSubset.union([left, right])
    assert merged.seen == 1000 and len(merged) == 50
    assert torch.equal(merged.values(), whole.values())
    assert torch.equal(merged.keys[0], whole.keys[0])
    # Merging leaves the parts alone; merge() folds in place.
    assert left.seen == 400 and len(right.values()) == 50
    assert torch.equal(left.merge(right).values(), whole.values())


def test_merge_with_fewer_rows_than_the_capacity_keeps_everything():
    a = RandomSubset(10).add(np.ones((3, 2), dtype=np.float32),
                             sample_keys(1, range(3)))
    b = RandomSubset(10).add(np.zeros((4, 2), dtype=np.float32),
                             sample_keys(1, range(3, 7)))
    merged = RandomSubset.union([a, b])
    assert merged.values().dtype == torch.float32
    keys = torch.cat(a.keys + b.keys)
    order = keys.argsort()
    rows = torch.tensor([1.] * 3 + [0.] * 4)
    assert torch.equal(merged.values()[:, 0], rows[order])
    assert torch.equal(merged.keys[0], keys[order])


def test_index_keys_keep_a_uniform_reproducible_subset():
    def sample(seed):
        subset = RandomSubset(8)
        for chunk in np.array_split(np.arange(40), 5):
            subset.add(chunk[:, None], sample_keys(seed, chunk))
        return subset.values()[:, 0]

    assert torch.equal(sample(3), sample(3))
    assert not torch.equal(sample(3), sample(4))
    # Uniform: every row is kept with probability capacity / seen.
    hits = np.zeros(40)
    for seed in range(400):
        hits[sample(seed).numpy()] += 1
    assert np.abs(hits / 400 - 8 / 40).max() < 0.1


def test_keys_must_match_the_rows():
    with pytest.raises(ValueError, match='keys of shape'):
        RandomSubset(4).add(torch.zeros(2, 3), torch.rand(3))
    with pytest.raises(ValueError, match='nothing was added'):
        RandomSubset(4).values()


def test_sample_draws_depend_on_seed_index_and_stream_only():
    def draw(*args):
        return torch.rand(4, generator=sample_generator(*args))

    assert torch.equal(draw(7, 3), draw(7, 3))
    assert torch.equal(draw(7, 3, 0), draw(7, 3))
    for other in ((8, 3), (7, 4), (7, 3, 1)):
        assert not torch.equal(draw(7, 3), draw(*other)), other
    keys = sample_keys(0, range(2000))
    assert keys.dtype == torch.float64 and len(keys.unique()) == 2000
    assert torch.equal(sample_keys(0, [5, 9]), keys[[5, 9]])
    # Neighbouring indices give unrelated, uniform keys.
    assert abs(keys.mean().item() - 0.5) < 0.02
    assert abs(torch.corrcoef(torch.stack([keys[:-1], keys[1:]]))[0, 1]) < 0.05
