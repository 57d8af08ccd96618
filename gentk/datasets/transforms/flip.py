"""Mirror a photo and its id maps together."""
import numpy as np
from mmcv.transforms import BaseTransform
from mmcv.transforms.utils import cache_randomness

from gentk.registry import TRANSFORMS
from .paired_keys import ID_MAP_KEYS, IMAGE_KEYS, present


@TRANSFORMS.register_module()
class PairedRandomFlip(BaseTransform):
    """Flip ``img``, ``gt_label`` and ``gt_inst`` left-right with
    probability ``prob``; records ``flip`` (bool) and ``flip_direction``.

    The coin comes from numpy's global RNG, which mmengine seeds
    (``randomness=dict(seed=...)``), per dataloader worker too.

    Args:
        prob (float): Probability of flipping. Defaults to 0.5.
    """

    def __init__(self, prob: float = 0.5):
        if not 0.0 <= prob <= 1.0:
            raise ValueError(
                f'PairedRandomFlip: prob must be in [0, 1], got {prob!r}')
        self.prob = prob

    @cache_randomness
    def decide(self) -> bool:
        return bool(np.random.rand() < self.prob)

    def transform(self, results: dict) -> dict:
        flip = self.decide()
        if flip:
            for key in present(results, IMAGE_KEYS + ID_MAP_KEYS):
                # A copy, not a negative-stride view: torch.from_numpy
                # rejects those, and the source array may be shared.
                # (np.ascontiguousarray would keep a width-1 view: numpy
                # counts it as contiguous whatever its stride.)
                results[key] = results[key][:, ::-1].copy()
        # Two flips cancel out, so the record is cumulative.
        results['flip'] = bool(results.get('flip', False)) != flip
        results['flip_direction'] = 'horizontal' if results['flip'] else None
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(prob={self.prob})'
