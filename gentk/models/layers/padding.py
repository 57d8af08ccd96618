"""Padding an input to a network's size granularity, and cropping back."""
import torch.nn.functional as F
from torch import Tensor


def pad_to_multiple(x: Tensor,
                    multiple: int,
                    min_multiples: int = 1,
                    mode: str = 'replicate') -> Tensor:
    """Pad the bottom and right of ``x`` so that H and W become multiples of
    ``multiple`` and at least ``min_multiples * multiple``.

    ``replicate`` is the default for label-map inputs: it extends the border
    class as a flat region, so one-hot pixels stay one-hot and edge maps stay
    binary, it invents no mirrored objects, and unlike ``reflect`` it works
    for pads larger than the image. Padding only bottom/right keeps the
    top-left aligned, so cropping back is ``y[..., :H, :W]``.

    Args:
        x (Tensor): ``[B, C, H, W]``.
        multiple (int): size granularity, e.g. ``2 ** num_downsamples``.
        min_multiples (int): smallest padded size, in multiples.
        mode (str): ``F.pad`` mode.

    Returns:
        Tensor: the padded tensor (``x`` itself when nothing is needed).
    """
    height, width = x.shape[-2:]
    target_h = max(-(-height // multiple), min_multiples) * multiple
    target_w = max(-(-width // multiple), min_multiples) * multiple
    if (target_h, target_w) == (height, width):
        return x
    return F.pad(x, (0, target_w - width, 0, target_h - height), mode=mode)
