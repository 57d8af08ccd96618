"""Instance-wise average pooling (pix2pixHD Sec. 3.4, feature encoder)."""
from typing import Tuple

import torch
from torch import Tensor


def instance_groups(inst: Tensor) -> Tuple[Tensor, Tensor]:
    """Group the pixels of ``inst`` ``[B, H, W]`` by instance, per image
    (the same id in two images is two instances; negative ids, e.g. -1 for
    "no instance", are instances too).

    Returns:
        ``(ids [G], group [B*H*W])``: per instance (image-major, ids
        ascending) its id, and per pixel its instance.
    """
    ids = inst.long().flatten(1)  # [B, HW]
    # One integer key per (image, id) pair; shifting by the minimum keeps
    # negative ids apart from image offsets.
    lowest = ids.min()
    span = ids.max() - lowest + 1
    image_index = torch.arange(ids.size(0), device=ids.device).unsqueeze(1)
    keys = image_index * span + (ids - lowest)
    unique_keys, group = torch.unique(keys.flatten(), return_inverse=True)
    return unique_keys % span + lowest, group


def instance_means(features: Tensor, inst: Tensor
                   ) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
    """The mean features of every instance of every image, as tensor ops.

    Instances are per image: the same id in two images of a batch is two
    instances. Differentiable with respect to ``features``.

    Args:
        features (Tensor): ``[B, C, H, W]``.
        inst (Tensor): instance ids, ``[B, H, W]`` or ``[B, 1, H, W]``;
            float maps must hold integral values; negative ids (e.g. -1 for
            "no instance") are instances too.

    Returns:
        ``(means [G, C], ids [G], counts [G], group [B*H*W])``: per
        instance (image-major, ids ascending) its mean, its id and its
        pixel count, and per pixel (in ``[B, H, W]`` order) its instance.
    """
    if inst.dim() == 4 and inst.size(1) == 1:
        inst = inst.squeeze(1)
    batch, channels, height, width = features.shape
    if inst.shape != (batch, height, width):
        raise ValueError(
            f'instance map of shape {tuple(inst.shape)} does not match '
            f'features of shape {tuple(features.shape)}')

    ids, group = instance_groups(inst)
    num_groups = ids.numel()

    # Sums and counts in float32 at least: in float16 (autocast) a count
    # past 65504 pixels is infinite, and long sums stop growing.
    flat = features.permute(0, 2, 3, 1).reshape(-1, channels)  # [BHW, C]
    accumulate = torch.promote_types(flat.dtype, torch.float32)
    sums = flat.new_zeros(num_groups, channels, dtype=accumulate).index_add(
        0, group, flat.to(accumulate))
    counts = torch.bincount(group, minlength=num_groups)
    means = (sums / counts.unsqueeze(1).to(accumulate)).to(flat.dtype)
    return means, ids, counts, group


def instance_average_pool(features: Tensor, inst: Tensor) -> Tensor:
    """Replace every pixel's features by the mean over its instance
    (``instance_means``).

    Returns:
        Tensor: ``[B, C, H, W]``, constant within each instance.
    """
    batch, channels, height, width = features.shape
    means, _, _, group = instance_means(features, inst)
    pooled = means[group].reshape(batch, height, width, channels)
    return pooled.permute(0, 3, 1, 2).contiguous()
