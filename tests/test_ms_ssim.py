"""MS-SSIM against its published definition (Wang et al. 2003) and an
independent numpy implementation, and the pairwise diversity metric."""
import numpy as np
import pytest
import scipy.ndimage
import scipy.signal
import torch

from gentk.evaluation.ms_ssim import (MS_SSIM_WEIGHTS, MSSSIMDiversity,
                                      gaussian_window_1d, ms_ssim,
                                      resize_area,
                                      ssim_and_contrast_structure)
from gentk.evaluation.random_subset import sample_keys

# Wang, Simoncelli & Bovik 2003, finest scale first (as in Wang's msssim.m
# and the tensorflow/models numpy reference); written out here so that the
# reference below does not borrow gentk's constant.
PUBLISHED_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


# ----------------------------------------------------------- numpy reference
def fspecial_gauss(size, sigma):
    """MATLAB's fspecial('gaussian', size, sigma) (half-integer grid for
    even sizes), as the msssim reference builds its window."""
    offsets = np.arange(size) - (size - 1) / 2
    x, y = np.meshgrid(offsets, offsets)
    g = np.exp(-(x ** 2 + y ** 2) / (2 * sigma ** 2))
    return g / g.sum()


def reference_ssim_cs(x, y, data_range, size=11, sigma=1.5):
    """[C, H, W] float64 arrays -> mean SSIM and cs with a 2-D window and
    'valid' convolution per channel; the window shrinks to the image."""
    k = min(size, *x.shape[1:])
    window = fspecial_gauss(k, sigma * k / size)

    def filt(a):
        return np.stack([scipy.signal.convolve2d(ch, window, mode='valid')
                         for ch in a])

    mu_x, mu_y = filt(x), filt(y)
    var_x, var_y = filt(x * x) - mu_x ** 2, filt(y * y) - mu_y ** 2
    cov = filt(x * y) - mu_x * mu_y
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    cs = (2 * cov + c2) / (var_x + var_y + c2)
    ssim = (2 * mu_x * mu_y + c1) / (mu_x ** 2 + mu_y ** 2 + c1) * cs
    return ssim.mean(), cs.mean()


def reference_ms_ssim(x, y, data_range):
    values = []
    for scale in range(5):
        ssim, cs = reference_ssim_cs(x, y, data_range)
        values.append(ssim if scale == 4 else cs)
        c, h, w = x.shape   # 2x2 block means (even sizes here)
        x = x.reshape(c, h // 2, 2, w // 2, 2).mean(axis=(2, 4))
        y = y.reshape(c, h // 2, 2, w // 2, 2).mean(axis=(2, 4))
    return float(np.prod(np.maximum(values, 0) ** np.array(PUBLISHED_WEIGHTS)))


def pair(noise, seed=0, size=64):
    """A smooth colour image in 0..255 and a copy with Gaussian noise of
    ``noise`` x 255, float64, [1, 3, size, size]."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(1, 3, 8, 8, generator=g, dtype=torch.float64)
    x = torch.nn.functional.interpolate(coarse, size=(size, size),
                                        mode='bilinear', align_corners=False)
    y = (x + noise * torch.randn(x.shape, generator=g, dtype=torch.float64))
    return 255 * x, 255 * y.clamp(0, 1)


# ---------------------------------------------------------------- functional
def test_identical_images_score_one():
    x = torch.rand(3, 3, 64, 64) * 255
    torch.testing.assert_close(ms_ssim(x, x),
                               torch.ones(3, dtype=torch.float64))
    odd = torch.rand(2, 1, 45, 37)
    torch.testing.assert_close(ms_ssim(odd, odd, data_range=1.0),
                               torch.ones(2, dtype=torch.float64))


def test_scale_weights_are_the_published_ones_finest_first():
    """The default weights are the paper's, in order from the finest scale
    (whose cs gets 0.0448) to the coarsest (whose SSIM gets 0.1333)."""
    assert MS_SSIM_WEIGHTS == pytest.approx(PUBLISHED_WEIGHTS, abs=0)
    assert sum(PUBLISHED_WEIGHTS) == pytest.approx(1.0, abs=1e-3)


def test_window_matches_fspecial_and_shrinks_at_coarse_scales():
    for size, sigma in [(11, 1.5), (8, 1.5 * 8 / 11), (4, 1.5 * 4 / 11)]:
        w = gaussian_window_1d(size, sigma).numpy()
        np.testing.assert_allclose(np.outer(w, w),
                                   fspecial_gauss(size, sigma), atol=1e-15)


def test_single_scale_ssim_of_constant_images_by_hand():
    x, y = torch.full((1, 1, 16, 16), 0.2), torch.full((1, 1, 16, 16), 0.6)
    ssim, cs = ssim_and_contrast_structure(x.double(), y.double(), 1.0)
    c1 = 0.01 ** 2
    # no variance anywhere: cs = c2 / c2, SSIM is the luminance term only
    assert cs.item() == pytest.approx(1.0)
    assert ssim.item() == pytest.approx((2 * 0.2 * 0.6 + c1)
                                        / (0.2 ** 2 + 0.6 ** 2 + c1))


def test_single_scale_ssim_of_gradients_by_hand():
    # x ramps along columns; y = 2x + 0.1. A symmetric window sees the ramp's
    # value at its centre as the mean, and every window has the same
    # variance v, so cs = (2*2v + c2) / (v + 4v + c2) everywhere.
    slope = 0.02
    cols = torch.arange(20, dtype=torch.float64) * slope
    x = cols.expand(1, 1, 20, 20).clone()
    y = 2 * x + 0.1
    ssim, cs = ssim_and_contrast_structure(x, y, 1.0)
    w = gaussian_window_1d(11, 1.5).numpy()
    offsets = np.arange(11) - 5
    v = slope ** 2 * (w * offsets ** 2).sum()   # variance within a window
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    cs_expected = (4 * v + c2) / (5 * v + c2)
    mu_x = cols.numpy()[5:15]                    # valid window centres
    mu_y = 2 * mu_x + 0.1
    luminance = (2 * mu_x * mu_y + c1) / (mu_x ** 2 + mu_y ** 2 + c1)
    assert cs.item() == pytest.approx(cs_expected, rel=1e-9)
    assert ssim.item() == pytest.approx(cs_expected * luminance.mean(),
                                        rel=1e-9)


def test_single_scale_matches_scipy_gaussian_filter_inside_the_valid_area():
    x, y = pair(0.2, size=40)
    ssim, cs = ssim_and_contrast_structure(x, y, 255.0)

    def filt(a):  # radius 5 = 11 taps at sigma 1.5; crop the border
        out = scipy.ndimage.gaussian_filter(a, sigma=(0, 0, 1.5, 1.5),
                                            truncate=5 / 1.5)
        return out[..., 5:-5, 5:-5]

    a, b = x.numpy(), y.numpy()
    mu_a, mu_b = filt(a), filt(b)
    var_a, var_b = filt(a * a) - mu_a ** 2, filt(b * b) - mu_b ** 2
    cov = filt(a * b) - mu_a * mu_b
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    cs_map = (2 * cov + c2) / (var_a + var_b + c2)
    ssim_map = (2 * mu_a * mu_b + c1) / (mu_a ** 2 + mu_b ** 2 + c1) * cs_map
    assert ssim.item() == pytest.approx(ssim_map.mean(), rel=1e-10)
    assert cs.item() == pytest.approx(cs_map.mean(), rel=1e-10)


@pytest.mark.parametrize('noise', [0.05, 0.3])
def test_ms_ssim_matches_a_numpy_reference_at_64x64(noise):
    x, y = pair(noise, seed=3)
    expected = reference_ms_ssim(x[0].numpy(), y[0].numpy(), 255.0)
    assert ms_ssim(x, y).item() == pytest.approx(expected, rel=1e-10)
    # a pure rescale does not matter once data_range follows it
    assert ms_ssim(x / 255, y / 255, data_range=1.0).item() == pytest.approx(
        expected, rel=1e-10)


def test_more_noise_scores_lower():
    scores = [ms_ssim(*pair(noise)).item() for noise in (0.0, 0.05, 0.2, 0.5)]
    assert scores[0] == pytest.approx(1.0)
    assert scores == sorted(scores, reverse=True)
    assert scores[-1] < 0.8


def test_resize_area_takes_block_means():
    img = torch.arange(16.).view(1, 1, 4, 4)
    torch.testing.assert_close(resize_area(img, 2),
                               torch.tensor([[[[2.5, 4.5], [10.5, 12.5]]]]))
    assert resize_area(torch.rand(2, 3, 96, 80), 64).shape == (2, 3, 64, 64)


# -------------------------------------------------------------------- metric
def run(metric, images, batch=8):
    for i in range(0, len(images), batch):
        metric.process(None, [{'fake_img': img} for img in images[i:i + batch]])
    return metric.evaluate(len(images))


def test_diversity_of_identical_samples_is_one_and_of_noise_is_low():
    same = (pair(0.0)[0] / 127.5 - 1).expand(10, 3, 64, 64)
    assert run(MSSSIMDiversity(num_pairs=20), same) == {
        'diversity/ms_ssim': pytest.approx(1.0)}
    noise = torch.rand(10, 3, 64, 64, generator=torch.Generator()
                       .manual_seed(0)) * 2 - 1
    assert run(MSSSIMDiversity(num_pairs=20), noise)['diversity/ms_ssim'] < 0.1


def test_diversity_is_the_mean_over_seeded_distinct_pairs_at_64x64():
    g = torch.Generator().manual_seed(1)
    images = (torch.nn.functional.interpolate(
        torch.rand(6, 3, 8, 8, generator=g), size=(128, 128),
        mode='bilinear', align_corners=False) * 2 - 1)
    metric = MSSSIMDiversity(num_pairs=30, batch_pairs=7, seed=4)
    score = run(metric, images)['diversity/ms_ssim']
    assert run(metric, images)['diversity/ms_ssim'] == score  # reproducible
    # by hand: the kept images (all six, in the order of their samples'
    # keys) and the same pair draws
    kept = ((resize_area((images + 1) * 127.5, 64)).round().to(torch.uint8))
    kept = kept[sample_keys(4, range(6)).argsort()]
    draws = torch.Generator().manual_seed(4)
    first = torch.randint(6, (30,), generator=draws)
    second = (first + torch.randint(1, 6, (30,), generator=draws)) % 6
    assert torch.all(first != second)
    expected = ms_ssim(kept[first], kept[second], data_range=255.0).mean()
    assert score == pytest.approx(expected.item(), rel=1e-12)


def test_reservoir_is_capped_and_ranks_merge():
    images = torch.rand(30, 3, 64, 64) * 2 - 1
    ranks = [MSSSIMDiversity(max_images=8, num_pairs=10) for _ in range(2)]
    for i, rank in enumerate(ranks):
        for j in range(i * 15, i * 15 + 15, 5):
            rank.process(None, [{'fake_img': img, 'sample_idx': j + k}
                                for k, img in enumerate(images[j:j + 5])])
        assert sum(len(k) for k in rank.results[0].keys) <= 8 + 2 + 5
    kept = [torch.cat(rank.results[0].keys) for rank in ranks]
    result = ranks[0].compute_metrics(ranks[0].results + ranks[1].results)
    assert len(ranks[0].results[0]) == 8
    assert 0 <= result['ms_ssim'] < 0.2
    # The merged reservoir is the union's: the 8 smallest keys of both.
    want = torch.cat(kept).topk(8, largest=False).values.sort().values
    assert torch.equal(torch.cat(ranks[0].results[0].keys).sort().values, want)


def test_diversity_needs_two_samples():
    metric = MSSSIMDiversity()
    metric.process(None, [{'fake_img': torch.zeros(3, 64, 64)}])
    with pytest.raises(ValueError, match='two'):
        metric.evaluate(1)
