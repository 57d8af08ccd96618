"""pix2pixHD's instance feature clusters (section 3.4).

After training, the encoder's instance-pooled features are collected for every
instance of the training set and clustered per semantic class with K-means
(K = 10). At test time each instance gets a randomly chosen centre of its
class, which gives diverse outputs for one label map. As in the official
code, only instances covering more than 1/64 of their image are clustered
(``MIN_AREA``): slivers at occlusion boundaries carry little of a class's
appearance.
"""
from typing import Dict, Optional, Tuple

import numpy as np
import torch
from scipy.cluster.vq import kmeans2

from gentk.utils import atomic_save, load_weights
from ..layers import instance_groups, instance_means

MIN_AREA = 1 / 64  # fraction of the image an instance must exceed


def instance_classes(inst: torch.Tensor) -> torch.Tensor:
    """Cityscapes convention: ids >= 1000 are ``class * 1000 + k``; smaller
    ids are the class itself (stuff)."""
    return torch.where(inst >= 1000, inst // 1000, inst)


def per_instance_features(features: torch.Tensor, inst: torch.Tensor
                          ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One feature vector per instance of each image (the instance mean).

    Args:
        features: [B,C,H,W] (typically already instance-pooled).
        inst: [B,H,W] instance ids.
    Returns:
        ``(vectors [N,C], classes [N], areas [N])`` over all instances of
        the batch; ``areas`` is the fraction of its image each covers.
    """
    vectors, ids, counts, _ = instance_means(features, inst)
    areas = counts.to(vectors.dtype) / (inst.shape[-2] * inst.shape[-1])
    return vectors, instance_classes(ids), areas


# The official encode_features.py runs scikit-learn's KMeans, whose runs
# take up to 300 Lloyd steps (max_iter).
KMEANS_ITERATIONS = 300


def _best_kmeans(points: np.ndarray, k: int, seed: int,
                 restarts: int) -> np.ndarray:
    """Centroids of the k-means++ run (of ``restarts``) with the lowest sum
    of squared distances to them. Each run takes ``KMEANS_ITERATIONS``
    Lloyd steps (scipy's default, 10, can stop short of convergence)."""
    best, best_cost = None, np.inf
    for run in range(restarts):
        centroids, assignment = kmeans2(points, k, iter=KMEANS_ITERATIONS,
                                        minit='++', seed=seed + run)
        cost = float(((points - centroids[assignment]) ** 2).sum())
        if cost < best_cost:
            best, best_cost = centroids, cost
    return best


class InstanceFeatureBank:
    """Per-class cluster centres of instance features."""

    def __init__(self, centers: Dict[int, torch.Tensor]):
        if not centers:
            raise ValueError('InstanceFeatureBank needs at least one class')
        self.centers = {int(k): v.float() for k, v in centers.items()}
        self.channels = next(iter(self.centers.values())).shape[1]

    @classmethod
    def fit(cls, vectors: torch.Tensor, classes: torch.Tensor, k: int = 10,
            seed: int = 0, restarts: int = 10) -> 'InstanceFeatureBank':
        """K-means with ``k`` centres per class (the distinct features
        themselves where a class has no more than ``k``): the best of
        ``restarts`` k-means++ runs by within-cluster sum of squares."""
        centers = {}
        data = vectors.double().cpu().numpy()
        labels = classes.cpu().numpy()
        for cls_id in np.unique(labels):
            points = data[labels == cls_id]
            distinct = np.unique(points, axis=0)
            if len(distinct) <= k:
                centers[int(cls_id)] = torch.from_numpy(distinct).float()
                continue
            centers[int(cls_id)] = torch.from_numpy(
                _best_kmeans(points, k, seed, restarts)).float()
        return cls(centers)

    def save(self, path: str) -> None:
        atomic_save({'centers': self.centers}, path)

    @classmethod
    def load(cls, path: str) -> 'InstanceFeatureBank':
        data = load_weights(path, what='feature cluster')
        if not isinstance(data, dict) or 'centers' not in data:
            raise ValueError(f'{path!r} is not a feature cluster file: expected '
                             "a dict with 'centers' (tools/encode_features.py)")
        return cls(data['centers'])

    def sample(self, inst: torch.Tensor,
               generator: Optional[torch.Generator] = None) -> torch.Tensor:
        """A feature map [B,C,H,W]: each instance of ``inst`` [B,H,W] filled
        with a random centre of its class; classes without centres get 0."""
        b, h, w = inst.shape
        ids, inverse = instance_groups(inst.cpu())
        classes = instance_classes(ids)
        vectors = torch.zeros(len(ids), self.channels)
        # A loop over the classes present (a few dozen at most), not pixels.
        for cls_id in classes.unique().tolist():
            bank = self.centers.get(cls_id)
            if bank is None:
                continue
            members = (classes == cls_id).nonzero().squeeze(1)
            choice = torch.randint(len(bank), (len(members),), generator=generator)
            vectors[members] = bank[choice]
        out = vectors[inverse].reshape(b, h * w, -1)
        return out.permute(0, 2, 1).reshape(b, -1, h, w).to(inst.device)
