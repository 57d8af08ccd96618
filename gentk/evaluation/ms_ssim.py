"""Multi-scale SSIM (Wang, Simoncelli & Bovik 2003) and SemGAN's diversity
score: the mean MS-SSIM between random pairs of generated samples at 64x64
(lower = more diverse; the "MS-SIM" column of SemGAN's tables).

Convention for small images. Five scales of a 64x64 image are 64, 32, 16, 8
and 4 pixels; an 11x11 window does not fit the last two. We follow the numpy
reference in tensorflow/models (``research/compression/image_encoder/
msssim.py``, written after Wang's MATLAB ``msssim.m``): at each scale the
window shrinks to the image (``size = min(11, H, W)``) and its sigma shrinks
with it (``1.5 * size / 11``); SSIM maps are 'valid' (no padding) and
averaged over positions and channels; scales are made by 2x2 averaging.
TensorFlow's ``tf.image.ssim_multiscale`` instead refuses scales smaller
than the window. A negative contrast-structure term (possible between two
unrelated images) is clamped to 0 before the fractional power, as
TensorFlow does; the numpy reference would return NaN there.
"""
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn.functional as F

from gentk.registry import METRICS
from .random_subset import RandomSubset, sample_keys
from .running_state import RunningStateMetric, sample_indices

MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


def gaussian_window_1d(size: int, sigma: float) -> torch.Tensor:
    """Normalised 1-D Gaussian of ``size`` taps; an even size samples the
    half-integer offsets, like MATLAB's ``fspecial('gaussian')``. The 2-D
    window is its outer product (the 2-D Gaussian factorises)."""
    x = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-x ** 2 / (2 * sigma ** 2))
    return g / g.sum()


def _filter_valid(img: torch.Tensor, window: torch.Tensor) -> torch.Tensor:
    """Separable 'valid' filtering of every channel of [N, C, H, W], as
    weighted sums of shifted views (faster on CPU than a grouped conv)."""
    taps = window.tolist()
    h, w = img.shape[-2] - len(taps) + 1, img.shape[-1] - len(taps) + 1
    rows = sum(t * img[..., j:j + w] for j, t in enumerate(taps))
    return sum(t * rows[..., j:j + h, :] for j, t in enumerate(taps))


def ssim_and_contrast_structure(x: torch.Tensor, y: torch.Tensor,
                                data_range: float, window_size: int = 11,
                                sigma: float = 1.5, k1: float = 0.01,
                                k2: float = 0.03):
    """Mean SSIM and mean contrast-structure term (cs) per image pair of
    [N, C, H, W] tensors, over all channels and valid window positions."""
    size = min(window_size, *x.shape[-2:])
    window = gaussian_window_1d(size, sigma * size / window_size)
    mu_x, mu_y = _filter_valid(x, window), _filter_valid(y, window)
    var_x = _filter_valid(x * x, window) - mu_x ** 2
    var_y = _filter_valid(y * y, window) - mu_y ** 2
    cov = _filter_valid(x * y, window) - mu_x * mu_y
    c1, c2 = (k1 * data_range) ** 2, (k2 * data_range) ** 2
    cs_map = (2 * cov + c2) / (var_x + var_y + c2)
    luminance = (2 * mu_x * mu_y + c1) / (mu_x ** 2 + mu_y ** 2 + c1)
    return (luminance * cs_map).mean(dim=(1, 2, 3)), cs_map.mean(dim=(1, 2, 3))


def _halve(img: torch.Tensor) -> torch.Tensor:
    """2x2 average then subsample; an odd last row/column is averaged with
    its mirror (itself), as the reference's reflect-mode filter does."""
    pad_w, pad_h = img.shape[-1] % 2, img.shape[-2] % 2
    if pad_w or pad_h:
        img = F.pad(img, (0, pad_w, 0, pad_h), mode='replicate')
    return F.avg_pool2d(img, 2)


def ms_ssim(x: torch.Tensor, y: torch.Tensor, data_range: float = 255.0,
            weights: Sequence[float] = MS_SSIM_WEIGHTS, window_size: int = 11,
            sigma: float = 1.5, k1: float = 0.01,
            k2: float = 0.03) -> torch.Tensor:
    """MS-SSIM of each pair in [N, C, H, W] batches ``x`` and ``y`` with
    intensities in [0, ``data_range``] (0..255 by default, as the reference):
    ``prod_j cs_j ** w_j`` over the finer scales times ``ssim ** w_last`` at
    the coarsest. Computed in float64; returns [N].

    The luminance term depends on the absolute level, not only on
    differences, so gentk's [-1, 1] images must be mapped to [0, 1] (with
    ``data_range=1``) or 0..255 first; on [-1, 1] the score would differ.
    """
    x, y = x.double(), y.double()
    result = torch.ones(x.shape[0], dtype=torch.float64, device=x.device)
    for scale, weight in enumerate(weights):
        ssim, cs = ssim_and_contrast_structure(x, y, data_range, window_size,
                                               sigma, k1, k2)
        last = scale == len(weights) - 1
        result = result * (ssim if last else cs).clamp_min(0) ** weight
        if not last:
            x, y = _halve(x), _halve(y)
    return result


def resize_area(img: torch.Tensor, size: int) -> torch.Tensor:
    """Downscale [N, C, H, W] to size x size by averaging (integer factors:
    exact block means), antialiased bilinear otherwise."""
    h, w = img.shape[-2:]
    if (h, w) == (size, size):
        return img
    if h % size == 0 and w % size == 0:
        return F.adaptive_avg_pool2d(img, size)
    return F.interpolate(img, size=(size, size), mode='bilinear',
                         align_corners=False, antialias=True)


@METRICS.register_module()
class MSSSIMDiversity(RunningStateMetric):
    """Mean MS-SSIM over ``num_pairs`` random pairs of distinct generated
    samples (``fake_img``), resized to ``resolution`` and quantised to 8
    bits as saved samples would be. Lower = more diverse. Key:
    ``diversity/ms_ssim``.

    Memory is bounded: a uniform random reservoir of at most ``max_images``
    8-bit images is kept (12 KB each at 3x64x64), and pairs are drawn from
    it. With a fixed ``seed`` reruns give the same number.
    """

    default_prefix = 'diversity'

    def __init__(self, num_pairs: int = 1000, max_images: int = 2000,
                 resolution: int = 64, batch_pairs: int = 250, seed: int = 0,
                 fake_key: str = 'fake_img', collect_device: str = 'cpu',
                 prefix: Optional[str] = None):
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.num_pairs = num_pairs
        self.max_images = max_images
        self.resolution = resolution
        self.batch_pairs = batch_pairs
        self.seed = seed
        self.fake_key = fake_key

    def _reservoir(self) -> RandomSubset:
        """This rank's reservoir, kept as its single entry of
        ``self.results`` so mmengine gathers and clears it with the rest."""
        if not self.results:
            self.results.append(RandomSubset(self.max_images))
        return self.results[0]

    def process_samples(self, data_samples: Sequence[dict]) -> None:
        reservoir = self._reservoir()
        fake = torch.stack([s[self.fake_key] for s in data_samples]).float()
        fake = resize_area((fake.clamp(-1, 1) + 1) * 127.5, self.resolution)
        # Keys follow from the samples' indices: the reservoir, and its
        # order, do not depend on which process saw which sample.
        keys = sample_keys(self.seed, sample_indices(data_samples))
        reservoir.add(fake.round().to(torch.uint8).cpu(), keys)

    def compute_metrics(self, results: List[RandomSubset]) -> Dict[str, float]:
        reservoir = results[0]
        for other in results[1:]:  # other ranks
            reservoir.merge(other)
        n = len(reservoir)
        if n < 2:
            raise ValueError('MSSSIMDiversity needs at least two generated '
                             f'samples, got {n}')
        images = reservoir.values()
        generator = torch.Generator().manual_seed(self.seed)
        first = torch.randint(n, (self.num_pairs,), generator=generator)
        # An offset in [1, n) makes the partner distinct and uniform.
        second = (first + torch.randint(1, n, (self.num_pairs,),
                                        generator=generator)) % n
        total = torch.zeros((), dtype=torch.float64)
        for i, j in zip(first.split(self.batch_pairs),
                        second.split(self.batch_pairs)):
            total += ms_ssim(images[i], images[j], data_range=255.0).sum()
        return {'ms_ssim': float(total / self.num_pairs)}
