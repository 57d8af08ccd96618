"""Sliced Wasserstein distance between patch distributions (Karras et al.
2018, "Progressive Growing of GANs", appendix D; SemGAN's "SWD" columns).

Per image: a Laplacian pyramid from the image resolution down to 16x16, and
at every level 128 random 7x7 patches ("descriptors", C*7*7 values each).
Per level and per set (real, fake): descriptors are normalised channel-wise
over the whole set, both sets are projected on random unit directions, and the
1-D Wasserstein-1 distance between the projected sets is averaged over
directions. Reported per level and averaged over levels, multiplied by 1e3 as
the reference implementation and SemGAN's tables do.
"""
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F

from gentk.registry import METRICS
from .random_subset import RandomSubset, sample_generator
from .running_state import RunningStateMetric, sample_indices

# cv2.pyrDown's binomial filter; the 5x5 kernel is its outer product.
BINOMIAL_5TAP = (1 / 16, 4 / 16, 6 / 16, 4 / 16, 1 / 16)


def _blur(img: torch.Tensor) -> torch.Tensor:
    """5x5 binomial blur of [N, C, H, W], borders mirrored without repeating
    the edge pixel (cv2's BORDER_REFLECT_101, scipy's 'mirror').

    Separable, as weighted sums of shifted views: for a 5-tap depthwise
    filter that is far faster on CPU than a grouped ``conv2d``.
    """
    h, w = img.shape[-2:]
    img = F.pad(img, (2, 2, 2, 2), mode='reflect')
    rows = sum(t * img[..., k:k + w] for k, t in enumerate(BINOMIAL_5TAP))
    return sum(t * rows[..., k:k + h, :] for k, t in enumerate(BINOMIAL_5TAP))


def pyramid_down(img: torch.Tensor) -> torch.Tensor:
    """Blur, then keep every other row and column (cv2.pyrDown)."""
    return _blur(img)[..., ::2, ::2]


def pyramid_up(img: torch.Tensor, size: Tuple[int, int]) -> torch.Tensor:
    """Zero-insert to twice the size, blur with 4x the kernel (each output
    pixel sees a quarter of the taps), crop to ``size`` (cv2.pyrUp)."""
    n, c, h, w = img.shape
    up = img.new_zeros(n, c, 2 * h, 2 * w)
    up[..., ::2, ::2] = img
    return (4 * _blur(up))[..., :size[0], :size[1]]


def laplacian_pyramid(img: torch.Tensor, levels: int) -> List[torch.Tensor]:
    """``levels`` band-pass images, finest first; the last one is the
    low-pass residual, so ``reconstruct_laplacian_pyramid`` gives ``img``
    back exactly (up to rounding)."""
    pyramid = []
    for _ in range(levels - 1):
        smaller = pyramid_down(img)
        pyramid.append(img - pyramid_up(smaller, img.shape[-2:]))
        img = smaller
    pyramid.append(img)
    return pyramid


def reconstruct_laplacian_pyramid(pyramid: Sequence[torch.Tensor]
                                  ) -> torch.Tensor:
    img = pyramid[-1]
    for band in reversed(pyramid[:-1]):
        img = band + pyramid_up(img, band.shape[-2:])
    return img


def pyramid_resolutions(height: int, width: int,
                        min_resolution: int = 16) -> List[Tuple[int, int]]:
    """(H, W) of every pyramid level: halve while the smaller side stays at
    least ``min_resolution`` (128x128 -> 128, 64, 32, 16)."""
    sizes = []
    while min(height, width) >= min_resolution:
        sizes.append((height, width))
        height, width = (height + 1) // 2, (width + 1) // 2
    return sizes


def patch_centres(n: int, height: int, width: int, patches_per_image: int,
                  patch_size: int = 7,
                  generator: Optional[torch.Generator] = None
                  ) -> Tuple[torch.Tensor, torch.Tensor]:
    """Random centres ``(y, x)``, each [n, patches_per_image], of
    ``patch_size`` squares fully inside a ``height x width`` image."""
    r = patch_size // 2
    shape = (n, patches_per_image)
    return (torch.randint(r, height - r, shape, generator=generator),
            torch.randint(r, width - r, shape, generator=generator))


def patch_descriptors(img: torch.Tensor, patches_per_image: int = 128,
                      patch_size: int = 7,
                      generator: Optional[torch.Generator] = None
                      ) -> torch.Tensor:
    """``patches_per_image`` random ``patch_size`` squares per image, fully
    inside it: [N * patches_per_image, C, patch_size, patch_size]."""
    centres = patch_centres(img.size(0), img.size(2), img.size(3),
                            patches_per_image, patch_size, generator)
    return gather_patches(img, *centres, patch_size)


def gather_patches(img: torch.Tensor, centre_y: torch.Tensor,
                   centre_x: torch.Tensor, patch_size: int = 7
                   ) -> torch.Tensor:
    """The squares around the centres ([N, P] each) of every image, as
    [N * P, C, patch_size, patch_size]."""
    n, c = img.shape[:2]
    r = patch_size // 2
    offsets = torch.arange(-r, r + 1)
    # Broadcast to [N, P, C, k, k] index grids; one gather, no Python loop.
    rows = (centre_y[..., None] + offsets).view(n, -1, 1, patch_size, 1)
    cols = (centre_x[..., None] + offsets).view(n, -1, 1, 1, patch_size)
    batch = torch.arange(n).view(n, 1, 1, 1, 1)
    chan = torch.arange(c).view(1, 1, c, 1, 1)
    index = tuple(t.to(img.device) for t in (batch, chan, rows, cols))
    return img[index].reshape(-1, c, patch_size, patch_size)


def normalise_descriptors(desc: torch.Tensor) -> torch.Tensor:
    """[M, C, k, k] -> [M, C*k*k], each channel standardised over the set
    (all descriptors and positions), as the reference does before slicing."""
    d = desc.double()
    mean = d.mean(dim=(0, 2, 3), keepdim=True)
    std = d.std(dim=(0, 2, 3), keepdim=True, unbiased=False)
    # A channel that never varies (e.g. a palette's unused colour component)
    # stays at zero instead of turning into NaN.
    std = torch.where(std > 0, std, torch.ones_like(std))
    return ((d - mean) / std).to(desc.dtype).flatten(1)


def random_directions(dim: int, num: int,
                      generator: Optional[torch.Generator] = None
                      ) -> torch.Tensor:
    """[dim, num] unit vectors, uniform on the sphere."""
    dirs = torch.randn(dim, num, generator=generator, dtype=torch.float64)
    return dirs / dirs.norm(dim=0, keepdim=True)


def wasserstein1_sorted(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Exact W1 between the empirical distributions of each column of sorted
    ``a`` [n, P] and sorted ``b`` [m, P]: the integral of the absolute
    difference of their quantile functions. For n == m it is the mean
    absolute difference of the sorted values."""
    n, m = a.shape[0], b.shape[0]
    if n == m:
        return (a - b).abs().double().mean(dim=0)
    # Quantile functions are steps at k/n and l/m; on the scale n*m all
    # breakpoints are integers, so the grid is exact.
    steps = torch.cat([torch.arange(1, n + 1) * m, torch.arange(1, m + 1) * n])
    steps = steps.unique(sorted=True)
    widths = torch.diff(steps, prepend=steps.new_zeros(1)).double() / (n * m)
    idx_a = ((steps - 1) // m).to(a.device)
    idx_b = ((steps - 1) // n).to(a.device)
    diff = (a[idx_a] - b[idx_b]).abs().double()
    return (widths.to(a.device)[:, None] * diff).sum(dim=0)


def sliced_wasserstein(a: torch.Tensor, b: torch.Tensor,
                       num_projections: int = 512,
                       projections_per_chunk: int = 128,
                       generator: Optional[torch.Generator] = None,
                       directions: Optional[torch.Tensor] = None
                       ) -> torch.Tensor:
    """Sliced Wasserstein-1 distance between point sets ``a`` [n, D] and
    ``b`` [m, D], averaged over ``num_projections`` random unit directions
    (or the columns of ``directions`` [D, P]).

    Directions are processed ``projections_per_chunk`` at a time so memory
    stays at (n + m) x chunk; the reference's "4 repeats of 128 directions"
    is the same mean over 512 directions. Returns a float64 scalar.
    """
    if directions is None:
        directions = random_directions(a.shape[1], num_projections, generator)
    total = torch.zeros((), dtype=torch.float64)
    for chunk in directions.split(projections_per_chunk, dim=1):
        chunk = chunk.to(a)
        proj_a = (a @ chunk).sort(dim=0).values
        proj_b = (b @ chunk.to(b)).sort(dim=0).values
        total += wasserstein1_sorted(proj_a, proj_b).sum().cpu()
    return total / directions.shape[1]


def to_pixel_scale(img: torch.Tensor) -> torch.Tensor:
    """[-1, 1] -> 0..255 rounded: the reference measures 8-bit images."""
    return ((img.float().clamp(-1, 1) + 1) * 127.5).round()


@METRICS.register_module()
class SlicedWassersteinDistance(RunningStateMetric):
    """SWD x 1e3 between ``fake_img`` and ``gt_img`` patches, per pyramid
    level (keys named by the level's size, e.g. ``swd/128`` ... ``swd/16``)
    and averaged (``swd/avg``). Lower is better.

    Memory is bounded: per level and per set only a uniform random subset of
    ``max_descriptors`` descriptors is kept (float32, C*49 values each: 19 MB
    per level and set at the default 32768 and C=3; 154 MB for the four
    levels of 128x128 images, real and fake). The reference keeps all of
    them (128 per image); with at most ``max_descriptors /
    patches_per_image`` images (256 by default) the two agree. Fewer
    descriptors raise the distance's noise floor: compare numbers computed
    with the same settings.

    Args:
        min_resolution: the coarsest level's smaller side (16 as in the
            reference).
        patch_size: descriptor side (7).
        patches_per_image: descriptors drawn per image and level (128).
        max_descriptors: cap on kept descriptors per level and set.
        num_projections: random directions per level (512 = the reference's
            4 repeats x 128).
        seed: seeds patch positions, subset keys and directions, so a rerun
            on the same images gives the same numbers.
    """

    default_prefix = 'swd'

    def __init__(self, min_resolution: int = 16, patch_size: int = 7,
                 patches_per_image: int = 128, max_descriptors: int = 32768,
                 num_projections: int = 512, seed: int = 0,
                 fake_key: str = 'fake_img', real_key: str = 'gt_img',
                 collect_device: str = 'cpu', prefix: Optional[str] = None):
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.min_resolution = min_resolution
        self.patch_size = patch_size
        self.patches_per_image = patches_per_image
        self.max_descriptors = max_descriptors
        self.num_projections = num_projections
        self.seed = seed
        self.image_keys = {'fake': fake_key, 'real': real_key}

    def _state(self, height: int, width: int) -> dict:
        """This rank's subsets. They live in ``self.results`` (one entry per
        rank) so mmengine gathers them across ranks and clears them after
        ``evaluate``, like any per-sample result."""
        if not self.results:
            sizes = pyramid_resolutions(height, width, self.min_resolution)
            if not sizes:
                raise ValueError(
                    f'SlicedWassersteinDistance: images of {height}x{width} '
                    f'are smaller than min_resolution={self.min_resolution}')
            subsets = {name: [RandomSubset(self.max_descriptors)
                              for _ in sizes] for name in self.image_keys}
            self.results.append({'sizes': sizes, **subsets})
        return self.results[0]

    def process_samples(self, data_samples: Sequence[dict]) -> None:
        first = data_samples[0][self.image_keys['fake']]
        state = self._state(*first.shape[-2:])
        for side, (name, key) in enumerate(self.image_keys.items()):
            present = [s for s in data_samples if s.get(key) is not None]
            if not present:
                continue
            imgs = [s[key] for s in present]
            if tuple(imgs[0].shape[-2:]) != state['sizes'][0]:
                raise ValueError(
                    f'SlicedWassersteinDistance: {key} is '
                    f'{tuple(imgs[0].shape[-2:])}, expected '
                    f"{state['sizes'][0]} like the first fake image")
            pyramid = laplacian_pyramid(to_pixel_scale(torch.stack(imgs)),
                                        len(state['sizes']))
            indices = sample_indices(present)
            for level, (band, subset) in enumerate(zip(pyramid, state[name])):
                # Each image's patch centres and keys come from its own
                # generator (the same whichever process sees the image);
                # one gather per level takes the patches of all.
                centres, keys = [], []
                for index in indices:
                    generator = sample_generator(self.seed, index,
                                                 2 * level + side)
                    centres.append(patch_centres(
                        1, band.size(2), band.size(3), self.patches_per_image,
                        self.patch_size, generator))
                    keys.append(torch.rand(self.patches_per_image,
                                           generator=generator,
                                           dtype=torch.float64))
                centre_y, centre_x = (torch.cat(c) for c in zip(*centres))
                descriptors = gather_patches(band, centre_y, centre_x,
                                             self.patch_size)
                subset.add(descriptors.cpu(), torch.cat(keys))

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        state = results[0]
        for other in results[1:]:  # other ranks
            for name in self.image_keys:
                for mine, theirs in zip(state[name], other[name]):
                    mine.merge(theirs)
        if not len(state['real'][0]):
            raise ValueError(f'SlicedWassersteinDistance: no data sample had '
                             f"'{self.image_keys['real']}' to compare with")
        generator = torch.Generator().manual_seed(self.seed)
        metrics = {}
        for (h, w), fake, real in zip(state['sizes'], state['fake'],
                                      state['real']):
            swd = sliced_wasserstein(
                normalise_descriptors(real.values()),
                normalise_descriptors(fake.values()),
                self.num_projections, generator=generator)
            metrics[str(h) if h == w else f'{h}x{w}'] = float(swd) * 1e3
        metrics['avg'] = sum(metrics.values()) / len(metrics)
        return metrics
