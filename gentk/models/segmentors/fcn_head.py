"""A plain convolutional head (FCN, Long et al. 2015), used as PSPNet's
auxiliary head on stage 3."""
from typing import Sequence

import torch
from mmcv.cnn import ConvModule
from torch import Tensor, nn

from gentk.registry import MODELS
from .decode_head import DecodeHead


@MODELS.register_module()
class FCNHead(DecodeHead):
    """``num_convs`` conv-norm-act layers, optionally concatenated with the
    input (``conv_cat``), then the classifier.

    Module names follow mmsegmentation (``convs.i.conv/bn``, ``conv_cat``,
    ``conv_seg``). PSPNet's auxiliary head: ``num_convs=1``,
    ``concat_input=False``, ``channels=256`` on stage 3 (``in_index=2``).

    Args:
        num_convs: convolution blocks before the classifier (>= 1).
        kernel_size: their kernel size (padding keeps the size).
        dilation: their dilation.
        concat_input: fuse ``[input, convs(input)]`` with one more block.
        **kwargs: see :class:`DecodeHead`.
    """

    def __init__(self, num_convs: int = 2, kernel_size: int = 3,
                 dilation: int = 1, concat_input: bool = True, **kwargs):
        super().__init__(**kwargs)
        if num_convs < 1:
            raise ValueError(f'FCNHead: num_convs must be >= 1, got {num_convs}')
        padding = kernel_size // 2 * dilation
        self.convs = nn.Sequential(*(
            ConvModule(self.in_channels if i == 0 else self.channels,
                       self.channels, kernel_size, padding=padding,
                       dilation=dilation, norm_cfg=self.norm_cfg,
                       act_cfg=self.act_cfg)
            for i in range(num_convs)))
        self.concat_input = concat_input
        if concat_input:
            self.conv_cat = ConvModule(
                self.in_channels + self.channels, self.channels, kernel_size,
                padding=kernel_size // 2, norm_cfg=self.norm_cfg,
                act_cfg=self.act_cfg)

    def forward(self, features: Sequence[Tensor]) -> Tensor:
        x = self.select(features)
        out = self.convs(x)
        if self.concat_input:
            out = self.conv_cat(torch.cat([x, out], dim=1))
        return self.classify(out)
