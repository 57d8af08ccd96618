"""PairedImageMetric: L1 and PSNR of generated photos against the real ones,
checked against numbers worked out by hand on 8-bit pixel values."""
import math

import numpy as np
import pytest
import torch

from gentk.evaluation import PairedImageMetric


def to_minus1_1(levels):
    """8-bit levels (nested lists) -> the [-1, 1] float images the metric
    reads, in float64 so the round trip back to 0..255 is exact enough."""
    return torch.tensor(levels, dtype=torch.float64) / 127.5 - 1


def psnr_by_hand(fake, real):
    """PSNR in dB with peak 255, from the definition 10 log10(MAX^2 / MSE)."""
    diff = np.asarray(fake, dtype=np.float64) - np.asarray(real, dtype=np.float64)
    return 10 * math.log10(255.0 ** 2 / np.mean(diff ** 2))


# 1 x 2 x 2 images; differences -10, +10, 0, +255 (signs mixed, so the
# mean absolute error differs from the absolute mean error).
FAKE = [[[10, 200], [50, 255]]]
REAL = [[[20, 190], [50, 0]]]


def test_single_image_by_hand():
    """One pair: L1 = (10 + 10 + 0 + 255) / 4 on the 0..255 scale and
    PSNR = 10 log10(255^2 / ((100 + 100 + 0 + 65025) / 4))."""
    metric = PairedImageMetric()
    metric.process(None, [dict(fake_img=to_minus1_1(FAKE),
                               gt_img=to_minus1_1(REAL))])
    out = metric.evaluate(1)
    assert set(out) == {'paired/l1', 'paired/psnr'}
    assert out['paired/l1'] == pytest.approx(275 / 4, abs=1e-9)
    mse = (100 + 100 + 0 + 65025) / 4
    assert out['paired/psnr'] == pytest.approx(10 * math.log10(65025 / mse),
                                               abs=1e-9)
    # the same number from the general formula
    assert out['paired/psnr'] == pytest.approx(psnr_by_hand(FAKE, REAL),
                                               abs=1e-9)


def test_constant_offset_psnr_by_hand():
    """A uniform error of 5 levels on a 3-channel image: L1 = 5 and
    PSNR = 10 log10(255^2 / 25) = 20 log10(51), about 34.15 dB."""
    real = np.random.default_rng(0).integers(0, 251, size=(3, 4, 6))
    fake = real + 5
    metric = PairedImageMetric()
    metric.process(None, [dict(fake_img=to_minus1_1(fake.tolist()),
                               gt_img=to_minus1_1(real.tolist()))])
    out = metric.evaluate(1)
    assert out['paired/l1'] == pytest.approx(5.0, abs=1e-9)
    assert out['paired/psnr'] == pytest.approx(10 * math.log10(65025 / 25),
                                               abs=1e-9)
    assert out['paired/psnr'] == pytest.approx(34.1514, abs=1e-4)


def test_scores_are_per_image_means_over_batches():
    """Both scores are averaged over images (PSNR per image, then the mean),
    whatever the batching: five pairs in batches of 2 and 3."""
    rng = np.random.default_rng(1)
    fakes = rng.integers(0, 256, size=(5, 3, 4, 4))
    reals = rng.integers(0, 256, size=(5, 3, 4, 4))
    reals[3] = fakes[3] + rng.choice([-2, 2], size=(3, 4, 4))  # a close pair
    reals = np.clip(reals, 0, 255)
    samples = [dict(fake_img=to_minus1_1(f.tolist()),
                    gt_img=to_minus1_1(r.tolist()))
               for f, r in zip(fakes, reals)]
    metric = PairedImageMetric()
    metric.process(None, samples[:2])
    metric.process(None, samples[2:])
    out = metric.evaluate(5)
    l1 = [np.abs(f - r).mean() for f, r in zip(fakes, reals)]
    psnr = [psnr_by_hand(f, r) for f, r in zip(fakes, reals)]
    assert out['paired/l1'] == pytest.approx(np.mean(l1), abs=1e-9)
    assert out['paired/psnr'] == pytest.approx(np.mean(psnr), abs=1e-9)
    # not the PSNR of the pooled MSE (the close pair weighs more per image)
    pooled = psnr_by_hand(fakes, reals)
    assert abs(out['paired/psnr'] - pooled) > 1


def test_fake_is_clipped_to_the_valid_range():
    """Generator output beyond [-1, 1] is scored as the saved 8-bit image
    would be: 1.4 counts as 255, -1.3 as 0."""
    fake = torch.tensor([[[1.4, -1.3]]], dtype=torch.float64)
    real = to_minus1_1([[[250, 4]]])
    metric = PairedImageMetric()
    metric.process(None, [dict(fake_img=fake, gt_img=real)])
    out = metric.evaluate(1)
    assert out['paired/l1'] == pytest.approx((5 + 4) / 2, abs=1e-9)
    assert out['paired/psnr'] == pytest.approx(
        10 * math.log10(65025 / ((25 + 16) / 2)), abs=1e-9)


def test_identical_images():
    """No error: L1 is 0 and PSNR stays finite (the MSE is floored rather
    than divided by zero), far above any real pair's score."""
    img = to_minus1_1(np.random.default_rng(2).integers(0, 256, (3, 5, 5))
                      .tolist())
    metric = PairedImageMetric()
    metric.process(None, [dict(fake_img=img, gt_img=img.clone())])
    out = metric.evaluate(1)
    assert out['paired/l1'] == 0
    assert math.isfinite(out['paired/psnr']) and out['paired/psnr'] > 100
