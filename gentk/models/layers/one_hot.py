"""Label map -> one-hot encoding, with an ignore id and a readable range error."""
from typing import Optional

import torch
from torch import Tensor

from gentk.utils.label_ids import ids_outside


def one_hot(label: Tensor,
            num_classes: int,
            ignore_index: Optional[int] = 255,
            dtype: torch.dtype = torch.float32) -> Tensor:
    """Encode an integer label map as one channel per class.

    Args:
        label (Tensor): integer ids, ``[B, H, W]`` (a ``[B, 1, H, W]`` map is
            accepted and squeezed).
        num_classes (int): number of classes ``C``; valid ids are ``[0, C)``.
        ignore_index (int, optional): id whose pixels become all-zero vectors.
            ``None`` disables ignoring.
        dtype (torch.dtype): dtype of the result.

    Returns:
        Tensor: ``[B, C, H, W]`` on ``label``'s device.

    Raises:
        ValueError: if an id other than ``ignore_index`` lies outside
            ``[0, num_classes)``. Checked on the host side, so a bad label
            never reaches a device-side scatter assert.
    """
    if label.dim() == 4 and label.size(1) == 1:
        label = label.squeeze(1)
    if label.dim() != 3:
        raise ValueError(
            f'one_hot expects a [B, H, W] label map, got shape {tuple(label.shape)}')
    if label.is_floating_point() or label.is_complex() or label.dtype == torch.bool:
        raise TypeError(f'one_hot expects integer labels, got {label.dtype}')
    label = label.long()

    bad_ids = ids_outside(label, num_classes, ignore_index)
    if bad_ids:
        raise ValueError(
            f'label contains ids {bad_ids} outside the expected range '
            f'[0, {num_classes}) (ignore_index={ignore_index})')

    valid = torch.ones_like(label, dtype=torch.bool) if ignore_index is None \
        else label != ignore_index
    # Ignored pixels scatter a 0 into channel 0, which leaves them all-zero.
    index = torch.where(valid, label, torch.zeros_like(label)).unsqueeze(1)
    out = label.new_zeros((label.size(0), num_classes, *label.shape[1:]),
                          dtype=dtype)
    return out.scatter_(1, index, valid.unsqueeze(1).to(dtype))
