"""Pixel-wise L1 reconstruction loss (pix2pix's L1 term)."""
from typing import Optional

import torch.nn.functional as F
from torch import Tensor

from gentk.registry import MODELS

from .base_loss import BaseLoss


@MODELS.register_module()
class L1Loss(BaseLoss):
    """``loss_weight * L1(pred, target)``; ``loss_name`` is ``loss_l1``.

    ``reduction`` is ``'mean'``, ``'sum'`` or ``'none'`` (as in
    ``torch.nn.functional.l1_loss``).
    """

    default_loss_name = 'loss_l1'

    def __init__(self, loss_weight: float = 1.0, reduction: str = 'mean',
                 loss_name: Optional[str] = None):
        super().__init__(loss_weight, loss_name)
        if reduction not in ('mean', 'sum', 'none'):
            raise ValueError(
                f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
        self.reduction = reduction

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        return F.l1_loss(pred, target, reduction=self.reduction) * self.loss_weight
