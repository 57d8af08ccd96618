"""Resize a photo and its id maps by one random factor (scale augmentation)."""
from typing import Sequence, Tuple

import numpy as np
from mmcv.transforms import BaseTransform
from mmcv.transforms.utils import cache_randomness

from gentk.registry import TRANSFORMS
from .paired_keys import reference_shape
from .resize import as_pair, check_interpolation, resize_sample


@TRANSFORMS.register_module()
class PairedRandomResize(BaseTransform):
    """Resize ``img`` (smooth) and ``gt_label``/``gt_inst`` (nearest) to a
    random multiple of a base scale, as segmentation training does
    (mmsegmentation's ``RandomResize`` with ``ratio_range``).

    A ratio ``r`` is drawn uniformly from ``ratio_range``; the target box is
    ``(r * w, r * h)`` for ``scale=(w, h)``. With ``keep_ratio`` the sample
    is scaled to fit inside that box keeping its aspect ratio (for a
    2048x1024 Cityscapes photo and ``scale=(2048, 1024)`` the factor is just
    ``r``); without, it is resized to the box exactly. The ratio comes from
    numpy's global RNG, which mmengine seeds per dataloader worker.

    Args:
        scale (int | tuple[int, int]): base ``(w, h)``.
        ratio_range (tuple[float, float]): ``(low, high)``, e.g. (0.5, 2.0).
        keep_ratio (bool): keep the aspect ratio (fit inside the box).
        interpolation (str): for ``img``: ``'bilinear'`` or ``'bicubic'``.
    """

    def __init__(self, scale, ratio_range: Sequence[float] = (0.5, 2.0),
                 keep_ratio: bool = True, interpolation: str = 'bilinear'):
        self.scale = as_pair(scale, 'scale', 'PairedRandomResize')
        low, high = as_pair(ratio_range, 'ratio_range', 'PairedRandomResize')
        if not 0 < low <= high or min(self.scale) <= 0:
            raise ValueError('PairedRandomResize: need 0 < low <= high and a '
                             f'positive scale, got ratio_range={ratio_range!r},'
                             f' scale={scale!r}')
        self.ratio_range = (float(low), float(high))
        self.keep_ratio = keep_ratio
        self.interpolation = check_interpolation(interpolation,
                                                 'PairedRandomResize')

    @cache_randomness
    def random_ratio(self) -> float:
        return float(np.random.uniform(*self.ratio_range))

    def target_size(self, height: int, width: int,
                    ratio: float) -> Tuple[int, int]:
        """The output (h, w) of an (height, width) sample for ``ratio``."""
        box_w, box_h = self.scale[0] * ratio, self.scale[1] * ratio
        if not self.keep_ratio:
            return max(1, int(round(box_h))), max(1, int(round(box_w)))
        factor = min(box_w / width, box_h / height)
        return (max(1, int(round(height * factor))),
                max(1, int(round(width * factor))))

    def transform(self, results: dict) -> dict:
        height, width = reference_shape(results, 'PairedRandomResize')
        size = self.target_size(height, width, self.random_ratio())
        return resize_sample(results, size, self.interpolation)

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(scale={self.scale}, '
                f'ratio_range={self.ratio_range}, '
                f'keep_ratio={self.keep_ratio}, '
                f'interpolation={self.interpolation!r})')
