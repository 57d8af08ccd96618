"""A batch's per-sample tensors as one tensor on the model's device."""
from typing import Sequence, Union

import torch
from torch import Tensor


def stack_batch(value: Union[Tensor, Sequence[Tensor]], key: str, owner: str,
                device, non_blocking: bool = False, where: str = '') -> Tensor:
    """``value`` (a tensor, or one per sample of the same shape) stacked and
    moved to ``device``. Samples of different shapes are a ValueError that
    names ``owner``, ``key``, the shapes in batch order and ``where`` they
    came from."""
    if not isinstance(value, Tensor):
        value = list(value)
        shapes = [tuple(v.shape) for v in value]
        if len(set(shapes)) > 1:
            raise ValueError(
                f"{owner}: the batch's '{key}' tensors have different shapes "
                f'{shapes}{where}; expected one size per batch: resize or '
                'crop in the dataset pipeline, or use batch_size=1')
        value = torch.stack(value)
    return value.to(device, non_blocking=non_blocking)
