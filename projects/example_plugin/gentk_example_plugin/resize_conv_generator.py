"""An encoder-decoder generator that upsamples by resize + convolution.

Transposed convolutions with a stride that does not divide the kernel size
overlap unevenly and tend to print checkerboard patterns into the image
(Odena et al., "Deconvolution and Checkerboard Artifacts", Distill 2016).
Upsampling with nearest-neighbour interpolation and then convolving spreads
every input pixel evenly, so the pattern cannot arise from the layer itself.
"""
from typing import Optional

from mmengine.model import BaseModule
from torch import Tensor, nn

from gentk.models.layers import (ConvNormAct, ResidualBlock, init_normal_,
                                 pad_to_multiple)
from gentk.registry import MODELS


class UpsampleConv(nn.Module):
    """2x nearest-neighbour upsampling followed by a 3x3 convolution."""

    def __init__(self, in_channels: int, out_channels: int,
                 norm_cfg: Optional[dict], act_cfg: Optional[dict],
                 padding_mode: str = 'reflect') -> None:
        super().__init__()
        self.upsample = nn.Upsample(scale_factor=2, mode='nearest')
        self.conv = ConvNormAct(in_channels, out_channels, kernel_size=3,
                                padding=1, padding_mode=padding_mode,
                                norm_cfg=norm_cfg, act_cfg=act_cfg)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(self.upsample(x))


@MODELS.register_module()
class ResizeConvGenerator(BaseModule):
    """Label map -> image: stem, stride-2 encoder, residual bottleneck,
    resize-convolution decoder, ``tanh`` head. Every convolution pads by
    reflection, so no layer sees artificial zero borders.

    Inputs of any size work: the input is padded (replicate, bottom/right)
    to a multiple of ``2 ** num_downsamples``, at least twice that so the
    bottleneck stays >= 2x2 for its reflection padding, and the output is
    cropped back to the input's H x W.

    Args:
        in_channels (int): condition channels; ``Pix2PixHD`` fills it in
            from its data preprocessor when the config leaves it out.
        out_channels (int): image channels.
        base_channels (int): width after the stem; doubles at each
            downsampling.
        num_downsamples (int): stride-2 stages (>= 1).
        num_blocks (int): residual blocks at the bottleneck.
        norm_cfg (dict, optional): norm of every hidden layer.
        act_cfg (dict, optional): activation of every hidden layer.
        init_cfg (dict, optional): mmengine init config, applied on top of
            the N(0, 0.02) initialisation done at construction.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int = 3,
                 base_channels: int = 32,
                 num_downsamples: int = 3,
                 num_blocks: int = 4,
                 norm_cfg: Optional[dict] = dict(type='IN'),
                 act_cfg: Optional[dict] = dict(type='ReLU', inplace=True),
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if num_downsamples < 1:
            # With no downsampling the padded input could be 2 pixels wide,
            # too small for the 7x7 stem's reflection padding.
            raise ValueError(
                f'num_downsamples must be >= 1, got {num_downsamples}')
        self.num_downsamples = num_downsamples
        widths = [base_channels * 2**i for i in range(num_downsamples + 1)]
        hidden = dict(padding_mode='reflect', norm_cfg=norm_cfg, act_cfg=act_cfg)

        self.stem = ConvNormAct(in_channels, base_channels, kernel_size=7,
                                padding=3, **hidden)
        self.encoder = nn.Sequential(*[
            ConvNormAct(c_in, c_out, kernel_size=3, stride=2, padding=1,
                        **hidden)
            for c_in, c_out in zip(widths[:-1], widths[1:])])
        self.bottleneck = nn.Sequential(*[
            ResidualBlock(widths[-1], norm_cfg=norm_cfg, act_cfg=act_cfg,
                          padding_mode='reflect')
            for _ in range(num_blocks)])
        self.decoder = nn.Sequential(*[
            UpsampleConv(c_in, c_out, norm_cfg, act_cfg)
            for c_in, c_out in zip(widths[:0:-1], widths[-2::-1])])
        self.to_rgb = ConvNormAct(base_channels, out_channels, kernel_size=7,
                                  padding=3, padding_mode='reflect',
                                  norm_cfg=None, act_cfg=dict(type='Tanh'),
                                  bias=True)
        init_normal_(self)

    @property
    def size_multiple(self) -> int:
        """Input H and W are padded to a multiple of this."""
        return 2**self.num_downsamples

    def forward(self, x: Tensor) -> Tensor:
        """``[B, in_channels, H, W]`` -> ``[B, out_channels, H, W]`` in
        [-1, 1]."""
        height, width = x.shape[-2:]
        x = pad_to_multiple(x, self.size_multiple, min_multiples=2)
        x = self.encoder(self.stem(x))
        x = self.decoder(self.bottleneck(x))
        # Crop last: every layer, the head included, sees the padded map.
        return self.to_rgb(x)[..., :height, :width]
