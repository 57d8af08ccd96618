"""FID and KID: generated images against real ones in Inception feature space.

Both metrics stream the data samples' ``fake_img`` (float [3, H, W] in
[-1, 1]) through the FID Inception network (``inception.py``) and keep
bounded state; the real side comes from the same pass's ``gt_img``, or from
``stats_cache.py`` when a cache folder and a ``dataset_key`` are configured.

Distributed evaluation: mmengine's ``BaseMetric`` gathers ``self.results``
from every rank. Here ``self.results`` holds exactly one running state per
process (float64 sums for FID, a bounded feature sample for KID), never one
entry per image, and ``compute_metrics`` adds the ranks' states up. (One
running sum rather than one partial sum per batch: a batch's
``sum x x^T`` is 2048^2 float64 = 32 MB.) The samples that the sampler
repeats so that every rank gets as many are left out
(``running_state.RunningStateMetric``), so scores do not depend on the
number of processes.
"""
import os.path as osp
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.logging import print_log

from gentk.registry import METRICS
from .frechet import GaussianStats, frechet_distance
from .inception import (INPUT_SIZE, WEIGHTS_HELP, FIDInceptionV3,
                        shared_inception)
from .random_subset import RandomSubset, sample_keys
from .running_state import RunningStateMetric, sample_field, sample_indices
from .stats_cache import RealStatsCache, file_sha256

DEFAULT_WEIGHTS = 'weights/pt_inception-2015-12-05.pth'


def quantize_8bit(images: torch.Tensor) -> torch.Tensor:
    """[-1, 1] images rounded to the 256 levels of an 8-bit image: what
    the network would see had the images been saved as PNG and read back
    (as pytorch-fid reads them)."""
    return torch.round((images.clamp(-1, 1) + 1) * 127.5) / 127.5 - 1


@dataclass
class PassState:
    """One process's running state for one evaluation pass."""
    fake: Any
    real: Any = None
    real_from_cache: bool = False


class InceptionFeatureMetric(RunningStateMetric):
    """Shared plumbing: batch, quantise and run images through the shared
    network; look the real side up in the cache. Subclasses say what state
    they keep (``new_state``/``add``) and what they compute from it.

    Args:
        inception_weights: local FID Inception weights (pytorch-fid layout).
        real_stats_cache: folder for cached real statistics, or None to
            compute them from ``gt_img`` in every pass.
        dataset_key: names the real data in the cache key; required with
            ``real_stats_cache``.
        batch_size: images per network call (bounds activation memory).
        quantize: round images to 8-bit levels first (see
            ``quantize_8bit``).
        device: where the network runs; None: the images' device.
    """

    uses_real = True     # FID, KID: compare with real images
    needs_logits = False  # the Inception Score: classifier outputs
    cache_kind = ''

    def __init__(self, inception_weights: str = DEFAULT_WEIGHTS,
                 real_stats_cache: Optional[str] = None,
                 dataset_key: Optional[str] = None, batch_size: int = 16,
                 quantize: bool = True, device: Optional[str] = None,
                 collect_device: str = 'cpu', prefix: Optional[str] = None,
                 collect_dir: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix,
                         collect_dir=collect_dir)
        if not osp.isfile(inception_weights):  # fail when built, not later
            raise FileNotFoundError(
                f'FID Inception weights not found: {inception_weights!r}. '
                + WEIGHTS_HELP.format(path=inception_weights))
        if real_stats_cache and not dataset_key:
            raise ValueError(
                'real_stats_cache needs a dataset_key naming the real data '
                "(e.g. 'cityscapes-val-256x128'): it is part of the cache key")
        self.inception_weights = inception_weights
        self.cache = RealStatsCache(real_stats_cache) \
            if real_stats_cache and self.uses_real else None
        self.dataset_key = dataset_key
        self.batch_size = batch_size
        self.quantize = quantize
        self.device = device

    # -- what subclasses provide ---------------------------------------
    def new_state(self) -> Any:
        raise NotImplementedError

    def add(self, state: Any, features: torch.Tensor,
            logits: Optional[torch.Tensor], indices: np.ndarray) -> None:
        """Fold a batch into ``state``; ``indices``: the images' indices in
        the split, for any random draw (``random_subset.sample_keys``)."""
        raise NotImplementedError

    def cache_extra(self) -> dict:
        return {}

    # -- network --------------------------------------------------------
    def network(self, device: torch.device) -> FIDInceptionV3:
        return shared_inception(self.inception_weights, device)

    def preprocessing(self) -> dict:
        """Everything between the [-1, 1] images and the features, for the
        cache key."""
        return dict(network='FIDInceptionV3.pool3', resize=INPUT_SIZE,
                    interpolation='bilinear', align_corners=False,
                    antialias=False, input_range=[-1.0, 1.0],
                    quantize_8bit=self.quantize)

    def cache_description(self) -> dict:
        return dict(kind=self.cache_kind, dataset=self.dataset_key,
                    weights_sha256=file_sha256(self.inception_weights),
                    preprocessing=self.preprocessing(), **self.cache_extra())

    def extract(self, images: torch.Tensor, with_logits: bool = False
                ) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        """float32 features [N, 2048] (and logits) on the CPU, computed
        ``batch_size`` images at a time."""
        net = self.network(torch.device(self.device) if self.device
                           else images.device)
        features, logits = [], []
        for chunk in images.split(self.batch_size):
            out = net(chunk, return_logits=with_logits)
            feats, logit = out if with_logits else (out, None)
            features.append(feats.cpu())
            if with_logits:
                logits.append(logit.cpu())
        return (torch.cat(features),
                torch.cat(logits) if with_logits else None)

    def batch_images(self, samples: Sequence, key: str) -> torch.Tensor:
        """The samples' ``key`` images as one float [N, 3, H, W] batch
        (quantised; resized to 299 first only when sizes differ)."""
        images = [sample_field(s, key) for s in samples]
        if any(img is None for img in images):
            raise KeyError(f'{type(self).__name__} needs {key!r} in every '
                           'data sample')
        if len({tuple(img.shape) for img in images}) == 1:
            batch = torch.stack(images).float()
            return quantize_8bit(batch) if self.quantize else batch
        # Mixed sizes: quantise each at its own size, then resize to the
        # network's input size so they stack (the network skips its resize).
        return torch.cat([
            F.interpolate(quantize_8bit(img[None].float()) if self.quantize
                          else img[None].float(),
                          size=(INPUT_SIZE, INPUT_SIZE), mode='bilinear',
                          align_corners=False)
            for img in images])

    # -- BaseMetric -----------------------------------------------------
    def _state(self) -> PassState:
        if not self.results:  # first batch of a pass
            state = PassState(fake=self.new_state())
            if self.uses_real:
                state.real_from_cache = bool(
                    self.cache and self.cache.contains(
                        self.cache_description()))
                if not state.real_from_cache:
                    state.real = self.new_state()
            self.results.append(state)
        return self.results[0]

    def process_samples(self, data_samples: Sequence) -> None:
        state = self._state()
        indices = sample_indices(data_samples)
        feats, logits = self.extract(
            self.batch_images(data_samples, 'fake_img'), self.needs_logits)
        self.add(state.fake, feats, logits, indices)
        if self.uses_real and not state.real_from_cache:
            if any(sample_field(s, 'gt_img') is None for s in data_samples):
                raise KeyError(
                    f'{type(self).__name__} needs real images: the data '
                    "samples carry no 'gt_img' and no cached real "
                    'statistics were found (real_stats_cache='
                    f'{self.cache.folder if self.cache else None!r}, '
                    f'dataset_key={self.dataset_key!r})')
            feats, _ = self.extract(self.batch_images(data_samples, 'gt_img'))
            self.add(state.real, feats, None, indices)

    def compute_metrics(self, results: List[PassState]) -> Dict[str, float]:
        fake = self.summarize([s.fake for s in results])
        if any(s.real_from_cache for s in results):
            # Any rank that found the cache skipped its real images.
            real = self.cache.load(self.cache_description())
            if real is None:
                raise RuntimeError(
                    'cached real statistics vanished during evaluation: '
                    f'{self.cache.path(self.cache_description())}')
        else:
            real = self.summarize([s.real for s in results])
            if self.cache is not None:
                path = self.cache.save(self.cache_description(), real)
                print_log(f'{type(self).__name__}: cached real statistics '
                          f'in {path}', logger='current')
        return self.score(fake, real)

    def summarize(self, states: List[Any]) -> Dict[str, np.ndarray]:
        """The ranks' states of one side -> the arrays ``score`` uses (and
        the cache stores)."""
        raise NotImplementedError

    def score(self, fake: Dict[str, np.ndarray],
              real: Dict[str, np.ndarray]) -> Dict[str, float]:
        raise NotImplementedError


@METRICS.register_module()
class FrechetInceptionDistance(InceptionFeatureMetric):
    """FID (Heusel et al. 2017): Fréchet distance between Gaussians fitted
    to the Inception pool3 features of fake and real images.

    Keeps float64 ``n``, ``sum x``, ``sum x x^T`` per side (2048 + 2048^2
    numbers, 32 MB), whatever the number of images. Reports ``FID/fid``.
    """

    default_prefix = 'FID'
    cache_kind = 'fid-gaussian'

    def new_state(self) -> GaussianStats:
        return GaussianStats()  # 2048-d, from the first batch

    def add(self, state: GaussianStats, features, logits, indices) -> None:
        state.update(features)

    def summarize(self, states: List[GaussianStats]) -> Dict[str, np.ndarray]:
        total = GaussianStats.total(states)
        mean, cov = total.mean_cov()
        return dict(mean=mean, cov=cov, n=np.array(total.n))

    def score(self, fake, real) -> Dict[str, float]:
        return {'fid': frechet_distance(fake['mean'], fake['cov'],
                                        real['mean'], real['cov'])}


def polynomial_mmd2_unbiased(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD^2 with the kernel k(a, b) = (a.b / d + 1)^3, float64."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    m, n, d = len(x), len(y), x.shape[1]
    k_xx = (x @ x.T / d + 1) ** 3
    k_yy = (y @ y.T / d + 1) ** 3
    k_xy = (x @ y.T / d + 1) ** 3
    return float((k_xx.sum() - np.trace(k_xx)) / (m * (m - 1))
                 + (k_yy.sum() - np.trace(k_yy)) / (n * (n - 1))
                 - 2 * k_xy.mean())


def kernel_inception_distance(fake: np.ndarray, real: np.ndarray,
                              num_subsets: int = 100,
                              subset_size: int = 1000, seed: int = 0
                              ) -> Tuple[float, float, int]:
    """KID (Bińkowski et al. 2018): mean and std over ``num_subsets`` of the
    unbiased polynomial-kernel MMD^2 between random subsets (drawn without
    replacement) of ``subset_size`` fake and real features. The subset size
    is capped by the smaller set; the size used is returned too."""
    size = min(subset_size, len(fake), len(real))
    if size < 2:
        raise ValueError(f'KID needs at least 2 fake and 2 real samples, got '
                         f'{len(fake)} and {len(real)}')
    rng = np.random.default_rng(seed)
    values = np.array([
        polynomial_mmd2_unbiased(
            fake[rng.choice(len(fake), size, replace=False)],
            real[rng.choice(len(real), size, replace=False)])
        for _ in range(num_subsets)])
    return float(values.mean()), float(values.std()), size


@METRICS.register_module()
class KernelInceptionDistance(InceptionFeatureMetric):
    """KID: unbiased MMD^2 with a cubic polynomial kernel on Inception
    features, averaged over random subsets. Reports ``KID/kid`` and
    ``KID/kid_std``.

    Unlike FID, KID needs the features themselves. Each side keeps a
    uniform random sample of at most ``max_samples`` feature rows
    (``RandomSubset``; 2048 float32 each: 10,000 rows = 82 MB), so memory
    is bounded; with more images than that, KID is computed on the sample.
    The cache stores the real sample.
    """

    default_prefix = 'KID'
    # v2: the kept sample follows from the images' indices in the split.
    cache_kind = 'kid-features-v2'

    def __init__(self, *args, num_subsets: int = 100,
                 subset_size: int = 1000, max_samples: int = 10000,
                 seed: int = 0, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.num_subsets = num_subsets
        self.subset_size = subset_size
        self.max_samples = max_samples
        self.seed = seed

    def cache_extra(self) -> dict:
        return dict(max_samples=self.max_samples, seed=self.seed)

    def new_state(self) -> RandomSubset:
        return RandomSubset(self.max_samples)

    def add(self, state: RandomSubset, features, logits, indices) -> None:
        # A sample's key follows from its index: the same subset (in the
        # same order) whichever process evaluated it.
        state.add(torch.as_tensor(features).float(),
                  sample_keys(self.seed, indices))

    def summarize(self, states: List[RandomSubset]
                  ) -> Dict[str, np.ndarray]:
        return dict(features=RandomSubset.union(states).values().numpy())

    def score(self, fake, real) -> Dict[str, float]:
        mean, std, size = kernel_inception_distance(
            fake['features'], real['features'], self.num_subsets,
            self.subset_size, self.seed)
        if size < self.subset_size:
            print_log(f'KID: subsets of {size} samples (fewer than '
                      f'subset_size={self.subset_size} available)',
                      logger='current')
        return {'kid': mean, 'kid_std': std}
