"""Instance boundary map (pix2pixHD Sec. 3.3)."""
import torch
from torch import Tensor


def instance_edges(inst: Tensor, dtype: torch.dtype = torch.float32) -> Tensor:
    """Mark pixels whose instance id differs from one of their 4-neighbours.

    Both pixels of a differing pair are marked, so a boundary is two pixels
    wide; the image border is not an edge.

    Args:
        inst (Tensor): instance ids, ``[B, H, W]`` or ``[B, 1, H, W]``, any
            dtype that supports ``!=``.
        dtype (torch.dtype): dtype of the result.

    Returns:
        Tensor: ``[B, 1, H, W]`` of 0/1 values.
    """
    if inst.dim() == 3:
        inst = inst.unsqueeze(1)
    if inst.dim() != 4 or inst.size(1) != 1:
        raise ValueError(
            'instance_edges expects [B, H, W] or [B, 1, H, W], got shape '
            f'{tuple(inst.shape)}')
    edges = torch.zeros_like(inst, dtype=torch.bool)
    horizontal = inst[..., :, 1:] != inst[..., :, :-1]
    vertical = inst[..., 1:, :] != inst[..., :-1, :]
    edges[..., :, 1:] |= horizontal
    edges[..., :, :-1] |= horizontal
    edges[..., 1:, :] |= vertical
    edges[..., :-1, :] |= vertical
    return edges.to(dtype)
