"""Pixel-wise cross-entropy for segmentation logits, with an ignore index."""
from typing import Optional

import torch.nn.functional as F
from torch import Tensor

from gentk.registry import MODELS
from ..losses import BaseLoss


@MODELS.register_module()
class SegCrossEntropyLoss(BaseLoss):
    """``loss_weight * CE(logits, label)`` over pixels; ``loss_ce`` by default.

    Pixels labelled ``ignore_index`` contribute nothing. The average is
    taken over the labelled pixels (``avg_non_ignore=True``, PyTorch's
    ``reduction='mean'``) or over all pixels (False, mmsegmentation's default,
    which its released PSPNet numbers were trained with). A batch without a
    single labelled pixel gives 0 with a gradient, never NaN.

    Args:
        loss_weight: multiplier (0.4 for PSPNet's auxiliary head).
        ignore_index: label value that marks "no class".
        avg_non_ignore: average over labelled pixels only.
        loss_name: log key, must start with ``loss_``.
    """

    default_loss_name = 'loss_ce'

    def __init__(self, loss_weight: float = 1.0, ignore_index: int = 255,
                 avg_non_ignore: bool = True, loss_name: Optional[str] = None):
        super().__init__(loss_weight, loss_name)
        self.ignore_index = ignore_index
        self.avg_non_ignore = avg_non_ignore

    def forward(self, logits: Tensor, label: Tensor) -> Tensor:
        """``logits`` [B, C, H, W] (any float), ``label`` [B, H, W] int ids."""
        per_pixel = F.cross_entropy(logits.float(), label.long(),
                                    ignore_index=self.ignore_index,
                                    reduction='none')
        if self.avg_non_ignore:
            count = (label != self.ignore_index).sum().clamp_min(1)
        else:
            count = label.numel()
        return per_pixel.sum() / count * self.loss_weight

    def extra_repr(self) -> str:
        return (f'{super().extra_repr()}, ignore_index={self.ignore_index}, '
                f'avg_non_ignore={self.avg_non_ignore}')
