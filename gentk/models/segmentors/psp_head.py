"""PSPNet's pyramid pooling head (Zhao et al., CVPR 2017)."""
from typing import Sequence

import torch
from mmcv.cnn import ConvModule
from torch import Tensor, nn

from gentk.registry import MODELS
from .decode_head import DecodeHead, resize_logits


@MODELS.register_module()
class PSPHead(DecodeHead):
    """Pyramid pooling module + 3x3 bottleneck + classifier.

    The feature map is average-pooled to ``b x b`` bins for each ``b`` in
    ``pool_scales``, each pooled map is reduced by a 1x1 conv-norm-act to
    ``channels``, upsampled back (bilinear) and concatenated with the input;
    a 3x3 conv-norm-act ``bottleneck`` fuses them.

    Modules are named as in mmsegmentation (``psp_modules.i.1.conv/bn``,
    ``bottleneck.conv/bn``, ``conv_seg``) so its checkpoints load.

    Args:
        pool_scales: bin counts per side, PSPNet's (1, 2, 3, 6).
        **kwargs: see :class:`DecodeHead` (``in_channels``, ``channels``,
            ``num_classes``, ``in_index``, ``dropout_ratio``, ...).
    """

    def __init__(self, pool_scales: Sequence[int] = (1, 2, 3, 6), **kwargs):
        super().__init__(**kwargs)
        self.pool_scales = tuple(pool_scales)
        self.psp_modules = nn.ModuleList(
            nn.Sequential(
                nn.AdaptiveAvgPool2d(scale),
                ConvModule(self.in_channels, self.channels, 1,
                           norm_cfg=self.norm_cfg, act_cfg=self.act_cfg))
            for scale in self.pool_scales)
        self.bottleneck = ConvModule(
            self.in_channels + len(self.pool_scales) * self.channels,
            self.channels, 3, padding=1, norm_cfg=self.norm_cfg,
            act_cfg=self.act_cfg)

    def forward(self, features: Sequence[Tensor]) -> Tensor:
        x = self.select(features)
        pyramid = [x] + [
            resize_logits(branch(x), x.shape[-2:], self.align_corners)
            for branch in self.psp_modules]
        return self.classify(self.bottleneck(torch.cat(pyramid, dim=1)))
