"""Sliced Wasserstein distance: pyramid, descriptors, the 1-D distances
against hand computations and scipy, and the streaming metric."""
import math

import numpy as np
import pytest
import scipy.ndimage
import scipy.stats
import torch

from gentk.evaluation.random_subset import sample_generator
from gentk.evaluation.swd import (SlicedWassersteinDistance,
                                  laplacian_pyramid, normalise_descriptors,
                                  patch_descriptors, pyramid_down,
                                  pyramid_resolutions, pyramid_up,
                                  random_directions,
                                  reconstruct_laplacian_pyramid,
                                  sliced_wasserstein, wasserstein1_sorted)

BINOMIAL_2D = np.outer([1, 4, 6, 4, 1], [1, 4, 6, 4, 1]) / 256.0


def test_pyramid_steps_follow_cv2_with_mirrored_borders():
    img = torch.rand(2, 3, 20, 24, dtype=torch.float64)
    kernel = BINOMIAL_2D[None, None]
    expected_down = scipy.ndimage.convolve(img.numpy(), kernel,
                                           mode='mirror')[..., ::2, ::2]
    down = pyramid_down(img)
    np.testing.assert_allclose(down.numpy(), expected_down, atol=1e-12)
    zero_inserted = np.zeros((2, 3, 20, 24))
    zero_inserted[..., ::2, ::2] = down.numpy()
    expected_up = scipy.ndimage.convolve(zero_inserted, 4 * kernel,
                                         mode='mirror')
    np.testing.assert_allclose(pyramid_up(down, (20, 24)).numpy(),
                               expected_up, atol=1e-12)


@pytest.mark.parametrize('size', [(64, 64), (25, 23)])
def test_laplacian_pyramid_sums_back_to_the_image(size):
    img = torch.rand(2, 3, *size, dtype=torch.float64)
    pyramid = laplacian_pyramid(img, 3)
    assert [p.shape[-2:] for p in pyramid] == [
        size, ((size[0] + 1) // 2, (size[1] + 1) // 2),
        ((size[0] + 3) // 4, (size[1] + 3) // 4)]
    torch.testing.assert_close(reconstruct_laplacian_pyramid(pyramid), img,
                               rtol=0, atol=1e-12)
    # band-pass levels carry no constant: a flat image lives in the residual
    flat = laplacian_pyramid(torch.full((1, 1, 32, 32), 7.0,
                                        dtype=torch.float64), 2)
    assert flat[0].abs().max() < 1e-12
    assert torch.allclose(flat[1], torch.tensor(7.0, dtype=torch.float64))


def test_pyramid_resolutions_stop_at_16():
    assert pyramid_resolutions(128, 128) == [(128, 128), (64, 64), (32, 32),
                                             (16, 16)]
    assert pyramid_resolutions(48, 96) == [(48, 96), (24, 48)]
    assert pyramid_resolutions(8, 8) == []


def test_patch_descriptors_are_contiguous_7x7_blocks_inside_the_image():
    n, c, h, w = 2, 3, 16, 20
    ys, xs = torch.meshgrid(torch.arange(h), torch.arange(w), indexing='ij')
    # every pixel encodes (image, channel, y, x)
    img = (torch.arange(n).view(n, 1, 1, 1) * 1e6
           + torch.arange(c).view(1, c, 1, 1) * 1e4 + ys * 100 + xs).double()
    desc = patch_descriptors(img, 50, 7, torch.Generator().manual_seed(1))
    assert desc.shape == (100, 3, 7, 7)
    image = desc[:, 0, 0, 0] // 1e6
    assert torch.equal(image, torch.arange(2).repeat_interleave(50).double())
    local = desc - image.view(-1, 1, 1, 1) * 1e6
    chan, rest = local // 1e4, local % 1e4
    assert torch.equal(chan[:, :, 0, 0], torch.arange(3.).expand(100, 3))
    y, x = rest // 100, rest % 100
    assert torch.equal(y - y[:, :, :1, :1], torch.arange(7.).view(1, 1, 7, 1)
                       .expand_as(y))
    assert torch.equal(x - x[:, :, :1, :1], torch.arange(7.).view(1, 1, 1, 7)
                       .expand_as(x))
    assert y.min() >= 0 and y.max() <= h - 1
    assert x.min() >= 0 and x.max() <= w - 1


def test_descriptors_are_standardised_per_channel_over_the_set():
    desc = torch.randn(500, 3, 7, 7, dtype=torch.float64) * 5 + 2
    desc[:, 2] = 4.0    # a channel that never varies
    flat = normalise_descriptors(desc).view(500, 3, 49)
    mean = flat.mean(dim=(0, 2))
    std = flat.std(dim=(0, 2), unbiased=False)
    torch.testing.assert_close(mean, torch.zeros(3, dtype=torch.float64),
                               rtol=0, atol=1e-12)
    torch.testing.assert_close(std[:2], torch.ones(2, dtype=torch.float64))
    assert torch.all(flat[:, 2] == 0)


def test_sliced_wasserstein_by_hand():
    a = torch.tensor([[0., 0.], [2., 0.]])
    b = torch.tensor([[3., 1.], [1., 1.]])
    # along x: {0, 2} vs {1, 3} -> sorted differences 1, 1; along y: 1, 1;
    # along the diagonal: {0, 2}/sqrt2 vs {2, 4}/sqrt2 -> 2/sqrt2 each.
    dirs = torch.tensor([[1., 0., 1 / math.sqrt(2)], [0., 1., 1 / math.sqrt(2)]])
    swd = sliced_wasserstein(a, b, directions=dirs)
    assert swd.dtype == torch.float64
    assert swd.item() == pytest.approx((1 + 1 + math.sqrt(2)) / 3)


def test_sliced_wasserstein_matches_numpy_sorting_with_fixed_directions():
    a, b = torch.randn(40, 6), torch.randn(40, 6) * 2 + 0.3
    dirs = random_directions(6, 10, torch.Generator().manual_seed(0))
    pa, pb = a.double().numpy() @ dirs.numpy(), b.double().numpy() @ dirs.numpy()
    expected = np.abs(np.sort(pa, axis=0) - np.sort(pb, axis=0)).mean()
    got = sliced_wasserstein(a.double(), b.double(), directions=dirs,
                             projections_per_chunk=3)  # chunking is invisible
    assert got.item() == pytest.approx(expected, rel=1e-12)


def test_unequal_set_sizes_give_the_exact_1d_distance():
    a, b = torch.tensor([[0.], [1.]]), torch.tensor([[0.], [0.], [3.]])
    # quantile functions differ by 1 on (1/2, 2/3] and by 2 on (2/3, 1]
    assert wasserstein1_sorted(a, b).item() == pytest.approx(5 / 6)
    a = torch.randn(50, 4, dtype=torch.float64).sort(dim=0).values
    b = (torch.randn(37, 4, dtype=torch.float64) + 0.5).sort(dim=0).values
    expected = [scipy.stats.wasserstein_distance(a[:, k], b[:, k])
                for k in range(4)]
    np.testing.assert_allclose(wasserstein1_sorted(a, b).numpy(), expected,
                               rtol=1e-12)


def test_swd_is_zero_on_itself_symmetric_and_grows_with_a_mean_shift():
    a, b = torch.randn(300, 12), torch.randn(300, 12)

    def swd(x, y):
        return sliced_wasserstein(x, y, 64,
                                  generator=torch.Generator().manual_seed(3))

    assert swd(a, a).item() == 0
    assert swd(a, b).item() == pytest.approx(swd(b, a).item(), rel=1e-6)
    shifts = [swd(a, b + s).item() for s in (0.0, 0.5, 1.0, 2.0)]
    assert shifts == sorted(shifts) and shifts[0] < shifts[-1] / 10


def _samples(fake, real, start=None):
    """Data samples; ``start``: the first one's index in the split."""
    samples = [{'fake_img': f, 'gt_img': r} for f, r in zip(fake, real)]
    if start is not None:
        for k, sample in enumerate(samples):
            sample['sample_idx'] = start + k
    return samples


def smooth_images(n, generator, size=32):
    """Random colour fields in [-1, 1], smooth plus a little noise: some
    structure at every level."""
    coarse = torch.rand(n, 3, size // 8, size // 8, generator=generator)
    img = torch.nn.functional.interpolate(coarse, size=(size, size),
                                          mode='bilinear', align_corners=False)
    noise = 0.1 * torch.randn(n, 3, size, size, generator=generator)
    return (img * 2 - 1 + noise).clamp(-1, 1)


def run_metric(metric, fake, real, batch=8):
    for i in range(0, len(fake), batch):
        metric.process(None, _samples(fake[i:i + batch], real[i:i + batch]))
    return metric.evaluate(len(fake))


def test_metric_reports_each_level_times_1e3_and_sees_lost_detail():
    real = smooth_images(24, torch.Generator().manual_seed(0))
    blurred = torch.nn.functional.avg_pool2d(real, 3, 1, 1,
                                             count_include_pad=False)
    kwargs = dict(num_projections=128)
    # same images: only the random patch positions differ
    near = run_metric(SlicedWassersteinDistance(**kwargs), real, real)
    far = run_metric(SlicedWassersteinDistance(**kwargs), blurred, real)
    assert set(near) == {'swd/32', 'swd/16', 'swd/avg'}
    assert near['swd/avg'] == pytest.approx(
        (near['swd/32'] + near['swd/16']) / 2)
    assert near['swd/32'] < 50  # x1e3: a distance of a few hundredths
    # a blur removes the finest band's detail, the coarse residual stays
    assert far['swd/32'] > 2.5 * near['swd/32']
    assert far['swd/16'] < 2 * near['swd/16']


def test_metric_equals_the_functional_core_and_is_reproducible():
    g = torch.Generator().manual_seed(1)
    fake, real = smooth_images(6, g), smooth_images(6, g)
    metric = SlicedWassersteinDistance(patches_per_image=16,
                                       num_projections=32, seed=5)
    first = run_metric(metric, fake, real, batch=6)
    assert run_metric(metric, fake, real, batch=6) == first  # state reset
    # redo by hand with the same draws: per image, from its own generator
    # (seed, its index, 2 * level + 0 for fake, 1 for real)
    descriptors = {}
    for side, (name, imgs) in enumerate((('fake', fake), ('real', real))):
        pixels = ((imgs.clamp(-1, 1) + 1) * 127.5).round()
        for level, band in enumerate(laplacian_pyramid(pixels, 2)):
            descriptors[name, level] = torch.cat([
                patch_descriptors(band[i:i + 1], 16, 7, sample_generator(
                    5, i, 2 * level + side)) for i in range(len(band))])
    directions = torch.Generator().manual_seed(5)
    for level, key in enumerate(('swd/32', 'swd/16')):
        expected = 1e3 * sliced_wasserstein(
            normalise_descriptors(descriptors['real', level]),
            normalise_descriptors(descriptors['fake', level]), 32,
            generator=directions).item()
        assert first[key] == pytest.approx(expected, rel=1e-6)


def test_metric_memory_is_capped_and_ranks_merge():
    g = torch.Generator().manual_seed(2)
    fake, real = smooth_images(20, g), smooth_images(20, g)
    ranks = [SlicedWassersteinDistance(patches_per_image=16,
                                       max_descriptors=40) for _ in range(2)]
    for i, rank in enumerate(ranks):
        for j in range(i * 10, i * 10 + 10, 5):
            rank.process(None, _samples(fake[j:j + 5], real[j:j + 5], j))
        for subset in rank.results[0]['fake'] + rank.results[0]['real']:
            assert sum(len(k) for k in subset.keys) <= 40 + 10 + 5 * 16
    kept = [[torch.cat(s.keys) for s in rank.results[0]['real']]
            for rank in ranks]
    merged = ranks[0].compute_metrics(ranks[0].results + ranks[1].results)
    assert set(merged) == {'32', '16', 'avg'}
    # The merged subsets are the union's: the 40 smallest keys of both.
    for level, subset in enumerate(ranks[0].results[0]['real']):
        union = torch.cat([kept[0][level], kept[1][level]])
        want = union.topk(40, largest=False).values.sort().values
        assert torch.equal(torch.cat(subset.keys).sort().values, want)


def test_metric_needs_real_images():
    metric = SlicedWassersteinDistance()
    metric.process(None, [{'fake_img': torch.zeros(3, 16, 16)}])
    with pytest.raises(ValueError, match='gt_img'):
        metric.evaluate(1)


def test_metric_rejects_real_images_of_another_size():
    metric = SlicedWassersteinDistance()
    with pytest.raises(ValueError, match='gt_img'):
        metric.process(None, [{'fake_img': torch.zeros(3, 32, 32),
                               'gt_img': torch.zeros(3, 64, 64)}])
