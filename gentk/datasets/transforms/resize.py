"""Resize a photo and its id maps together.

Photos use antialiased bicubic (what pix2pixHD gets from PIL's BICUBIC);
id maps use nearest neighbour so no id that is not in the map appears.
"""
import numbers
from typing import Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F
from mmcv.transforms import BaseTransform

from gentk.registry import TRANSFORMS
from .paired_keys import ID_MAP_KEYS, IMAGE_KEYS, present, reference_shape

IMAGE_INTERPOLATIONS = ('bicubic', 'bilinear')


def resize_image(img: np.ndarray, size_hw: Tuple[int, int],
                 interpolation: str = 'bicubic') -> np.ndarray:
    """Resize an HxWxC uint8 image; antialiased like PIL when shrinking."""
    if img.shape[:2] == tuple(size_hw):
        return img
    if img.dtype != np.uint8:
        raise TypeError(f'img must be uint8 to resize, got {img.dtype}')
    # torch's uint8 antialiased kernels match PIL's within 1 grey level.
    chw = torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1)
    out = F.interpolate(chw[None], size=tuple(size_hw), mode=interpolation,
                        antialias=True, align_corners=False)
    return np.ascontiguousarray(out[0].permute(1, 2, 0).numpy())


def nearest_source_index(src: int, dst: int) -> np.ndarray:
    """For each of ``dst`` output pixels, the source pixel whose centre is
    nearest: floor((i + 0.5) * src / dst), in exact integer arithmetic."""
    return ((2 * np.arange(dst) + 1) * src) // (2 * dst)


def resize_nearest(ids: np.ndarray, size_hw: Tuple[int, int]) -> np.ndarray:
    """Resize an HxW map by picking source pixels (keeps dtype and ids)."""
    if ids.shape[:2] == tuple(size_hw):
        return ids
    rows = nearest_source_index(ids.shape[0], size_hw[0])
    cols = nearest_source_index(ids.shape[1], size_hw[1])
    return ids[rows[:, None], cols[None, :]]


def resize_sample(results: dict, size_hw: Tuple[int, int],
                  interpolation: str) -> dict:
    """Resize every paired key to ``size_hw``; update shape and scale."""
    height, width = reference_shape(results, 'resize')
    for key in present(results, IMAGE_KEYS):
        results[key] = resize_image(results[key], size_hw, interpolation)
    for key in present(results, ID_MAP_KEYS):
        results[key] = resize_nearest(results[key], size_hw)
    results['img_shape'] = tuple(size_hw)
    # Cumulative over successive resizes, (w, h) as in mmcv.
    prev_w, prev_h = results.get('scale_factor') or (1.0, 1.0)
    results['scale_factor'] = (prev_w * size_hw[1] / width,
                               prev_h * size_hw[0] / height)
    return results


def check_interpolation(interpolation: str, owner: str) -> str:
    if interpolation not in IMAGE_INTERPOLATIONS:
        raise ValueError(f'{owner}: interpolation must be one of '
                         f'{IMAGE_INTERPOLATIONS}, got {interpolation!r}')
    return interpolation


def as_pair(value, name: str, owner: str) -> Tuple:
    """``value`` as a 2-tuple (a single number is used twice)."""
    if isinstance(value, numbers.Real):
        return (value, value)
    if isinstance(value, Sequence) and len(value) == 2:
        return tuple(value)
    raise ValueError(f'{owner}: {name} must be a number or a pair, got '
                     f'{value!r}')


@TRANSFORMS.register_module()
class PairedResize(BaseTransform):
    """Resize ``img`` (bicubic) and ``gt_label``/``gt_inst`` (nearest).

    Give exactly one of ``scale`` and ``scale_factor``.

    Args:
        scale (int | tuple[int, int], optional): Target ``(w, h)``.
        scale_factor (float | tuple[float, float], optional): Multiplier for
            ``(w, h)``; the new size is rounded.
        keep_ratio (bool): With ``scale``: keep the aspect ratio and fit the
            result inside the ``(w, h)`` box.
        interpolation (str): For ``img``: ``'bicubic'`` or ``'bilinear'``.
    """

    def __init__(self,
                 scale: Optional[Union[int, Tuple[int, int]]] = None,
                 scale_factor: Optional[Union[float, Tuple[float,
                                                           float]]] = None,
                 keep_ratio: bool = False,
                 interpolation: str = 'bicubic'):
        if (scale is None) == (scale_factor is None):
            raise ValueError('PairedResize: give exactly one of scale (w, h) '
                             f'and scale_factor; got scale={scale!r}, '
                             f'scale_factor={scale_factor!r}')
        self.scale = None if scale is None else as_pair(
            scale, 'scale', 'PairedResize')
        self.scale_factor = None if scale_factor is None else as_pair(
            scale_factor, 'scale_factor', 'PairedResize')
        for value in self.scale or self.scale_factor:
            if value <= 0:
                raise ValueError('PairedResize: scale and scale_factor must '
                                 f'be positive, got {value!r}')
        self.keep_ratio = keep_ratio
        self.interpolation = check_interpolation(interpolation,
                                                 'PairedResize')

    def target_size(self, height: int, width: int) -> Tuple[int, int]:
        """The output (h, w) for an input of (height, width)."""
        if self.scale is None:
            factor_w, factor_h = self.scale_factor
        elif self.keep_ratio:
            factor_w = factor_h = min(self.scale[0] / width,
                                      self.scale[1] / height)
        else:
            return int(self.scale[1]), int(self.scale[0])
        return (max(1, int(round(height * factor_h))),
                max(1, int(round(width * factor_w))))

    def transform(self, results: dict) -> dict:
        height, width = reference_shape(results, 'PairedResize')
        return resize_sample(results, self.target_size(height, width),
                             self.interpolation)

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(scale={self.scale}, '
                f'scale_factor={self.scale_factor}, '
                f'keep_ratio={self.keep_ratio}, '
                f'interpolation={self.interpolation!r})')


@TRANSFORMS.register_module()
class ScaleWidth(BaseTransform):
    """pix2pixHD's ``scale_width``: set the width, keep the aspect ratio.

    The new height is ``int(width * h / w)`` (truncated, as pix2pixHD does).

    Args:
        width (int): Target width in pixels.
        interpolation (str): For ``img``: ``'bicubic'`` or ``'bilinear'``.
    """

    def __init__(self, width: int, interpolation: str = 'bicubic'):
        if not isinstance(width, int) or width < 1:
            raise ValueError(
                f'ScaleWidth: width must be a positive int, got {width!r}')
        self.width = width
        self.interpolation = check_interpolation(interpolation, 'ScaleWidth')

    def transform(self, results: dict) -> dict:
        height, width = reference_shape(results, 'ScaleWidth')
        new_height = max(1, int(self.width * height / width))
        return resize_sample(results, (new_height, self.width),
                             self.interpolation)

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(width={self.width}, '
                f'interpolation={self.interpolation!r})')


@TRANSFORMS.register_module()
class PairedResizeToMultiple(BaseTransform):
    """Round height and width to multiples of ``size_divisor`` by resizing.

    pix2pixHD's ``make_power_2``: the generator halves the size
    ``n_downsample`` times, so both sides must divide by 2**n_downsample.
    Each side becomes ``round(side / size_divisor) * size_divisor`` (at least
    one ``size_divisor``).

    Args:
        size_divisor (int): e.g. 16 for a 4-times-downsampling generator.
        interpolation (str): For ``img``: ``'bicubic'`` or ``'bilinear'``.
    """

    def __init__(self, size_divisor: int, interpolation: str = 'bicubic'):
        if not isinstance(size_divisor, int) or size_divisor < 1:
            raise ValueError('PairedResizeToMultiple: size_divisor must be a '
                             f'positive int, got {size_divisor!r}')
        self.size_divisor = size_divisor
        self.interpolation = check_interpolation(interpolation,
                                                 'PairedResizeToMultiple')

    def transform(self, results: dict) -> dict:
        height, width = reference_shape(results, 'PairedResizeToMultiple')
        divisor = self.size_divisor
        size_hw = (max(1, int(round(height / divisor))) * divisor,
                   max(1, int(round(width / divisor))) * divisor)
        if size_hw == (height, width):
            return results
        return resize_sample(results, size_hw, self.interpolation)

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(size_divisor={self.size_divisor}, '
                f'interpolation={self.interpolation!r})')
