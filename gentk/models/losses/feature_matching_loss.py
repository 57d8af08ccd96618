"""pix2pixHD's discriminator feature matching loss (Eq. 4)."""
from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from gentk.registry import MODELS

from .base_loss import BaseLoss
from .discriminator_outputs import intermediate_features


@MODELS.register_module()
class FeatureMatchingLoss(BaseLoss):
    """L1 between discriminator features of fake and real images;
    ``loss_name`` is ``loss_feat``.

    Inputs are the nested multi-scale discriminator outputs: per scale a list
    ``[feat_1, ..., feat_T, pred]``. The prediction map (last element) is
    skipped. With ``T`` intermediate features at a scale and ``S`` scales,
    each layer's mean absolute difference is weighted by
    ``4 / T * 1 / S * loss_weight``. pix2pixHD writes ``4 / (n_layers_D + 1)``
    because its discriminator with ``n_layers_D`` strided convolutions
    returns ``n_layers_D + 2`` outputs per scale, i.e. ``T = n_layers_D + 1``
    features; its default ``n_layers_D = 3`` gives ``T = 4`` and a layer
    weight of 1. ``T`` and ``S`` are read from the lists.

    Real features are detached: the discriminator acts only as a fixed
    feature extractor here, and no gradient reaches the real branch.
    """

    default_loss_name = 'loss_feat'

    def __init__(self, loss_weight: float = 10.0, loss_name: Optional[str] = None):
        super().__init__(loss_weight, loss_name)

    def forward(self, fake_feats: Sequence[Sequence[Tensor]],
                real_feats: Sequence[Sequence[Tensor]]) -> Tensor:
        fake_scales = intermediate_features(fake_feats)
        real_scales = intermediate_features(real_feats)
        if len(fake_scales) != len(real_scales):
            raise ValueError(
                f'fake and real outputs have {len(fake_scales)} and '
                f'{len(real_scales)} scales')
        scale_weight = 1.0 / len(fake_scales)
        terms = []
        for scale, (fakes, reals) in enumerate(zip(fake_scales, real_scales)):
            if len(fakes) != len(reals):
                raise ValueError(
                    f'scale {scale}: fake and real outputs have {len(fakes)} '
                    f'and {len(reals)} intermediate features')
            layer_weight = 4.0 / len(fakes)
            for fake, real in zip(fakes, reals):
                terms.append(scale_weight * layer_weight
                             * F.l1_loss(fake, real.detach()))
        return torch.stack(terms).sum() * self.loss_weight
