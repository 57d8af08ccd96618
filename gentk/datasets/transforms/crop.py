"""Cut the same random window out of a photo and its id maps."""
import numbers
from typing import Sequence, Tuple, Union

import numpy as np
from mmcv.transforms import BaseTransform
from mmcv.transforms.utils import cache_randomness

from gentk.registry import TRANSFORMS
from .paired_keys import ID_MAP_KEYS, IMAGE_KEYS, present, reference_shape


def pad_bottom_right(array: np.ndarray, size_hw: Tuple[int, int],
                     value) -> np.ndarray:
    """Pad ``array`` on the bottom and right up to at least ``size_hw``."""
    pad_h = max(size_hw[0] - array.shape[0], 0)
    pad_w = max(size_hw[1] - array.shape[1], 0)
    if pad_h == pad_w == 0:
        return array
    widths = [(0, pad_h), (0, pad_w)] + [(0, 0)] * (array.ndim - 2)
    return np.pad(array, widths, mode='constant', constant_values=value)


@TRANSFORMS.register_module()
class PairedRandomCrop(BaseTransform):
    """Crop ``img``, ``gt_label`` and ``gt_inst`` with one random window.

    A sample smaller than ``crop_size`` is first padded on the bottom/right:
    labels with ``label_pad_val`` (the ignore index), instances with
    ``inst_pad_val`` (0: no instance), the photo with ``img_pad_val``.
    The window is drawn from numpy's global RNG, which mmengine seeds
    (``randomness=dict(seed=...)``), per dataloader worker too.

    Args:
        crop_size (int | tuple[int, int]): ``(h, w)`` of the window.
        label_pad_val (int): Fill for ``gt_label``: the dataset's ignore
            index. Defaults to 255.
        inst_pad_val (int): Fill for ``gt_inst``. Defaults to 0.
        img_pad_val (int): Fill for ``img``. Defaults to 0.
    """

    def __init__(self, crop_size: Union[int, Sequence[int]],
                 label_pad_val: int = 255, inst_pad_val: int = 0,
                 img_pad_val: int = 0):
        if isinstance(crop_size, numbers.Integral):
            crop_size = (crop_size, crop_size)
        if (not isinstance(crop_size, Sequence) or len(crop_size) != 2
                or any(not isinstance(side, numbers.Integral) or side < 1
                       for side in crop_size)):
            raise ValueError('PairedRandomCrop: crop_size must be a positive '
                             f'int or (h, w) of them, got {crop_size!r}')
        self.crop_size = tuple(int(side) for side in crop_size)
        self.pad_values = {'img': img_pad_val, 'gt_label': label_pad_val,
                           'gt_inst': inst_pad_val}

    @cache_randomness
    def random_offset(self, height: int, width: int) -> Tuple[int, int]:
        """Top-left (y, x) of a window that fits in (height, width)."""
        top = np.random.randint(0, height - self.crop_size[0] + 1)
        left = np.random.randint(0, width - self.crop_size[1] + 1)
        return int(top), int(left)

    def transform(self, results: dict) -> dict:
        height, width = reference_shape(results, 'PairedRandomCrop')
        crop_h, crop_w = self.crop_size
        height, width = max(height, crop_h), max(width, crop_w)
        top, left = self.random_offset(height, width)
        for key in present(results, IMAGE_KEYS + ID_MAP_KEYS):
            padded = pad_bottom_right(results[key], self.crop_size,
                                      self.pad_values[key])
            results[key] = padded[top:top + crop_h, left:left + crop_w]
        results['img_shape'] = self.crop_size
        # (x1, y1, x2, y2) in the (padded) input, as mmcv's crops record it.
        results['crop_bbox'] = (left, top, left + crop_w, top + crop_h)
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(crop_size={self.crop_size}, '
                f'pad_values={self.pad_values})')
