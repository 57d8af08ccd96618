"""pix2pix's U-Net generator (Isola et al. 2017), the pix2pixHD baseline."""
from typing import List, Optional

import torch
from mmengine.model import BaseModule
from torch import Tensor, nn

from gentk.registry import MODELS
from ..layers import (ConvNormAct, build_act, init_normal_, norm_has_shift,
                      pad_to_multiple)


@MODELS.register_module()
class UnetGenerator(BaseModule):
    """Encoder-decoder with skip connections between mirrored levels.

    Level ``k`` (0 = outermost) halves the resolution on the way down with a
    4x4 stride-2 convolution to ``base_channels * min(2**k, 8)`` channels and
    doubles it on the way up with a 4x4 transposed convolution; the up path
    concatenates each level's down output with the up output of the level
    below. Down layers are pre-activated by LeakyReLU(0.2) (none on the
    input), up layers by ReLU; the outermost up layer ends in tanh. No norm
    on the outermost down layer and on the innermost down layer (1x1 map);
    dropout on the up layers of the inner levels whose width is saturated
    (levels 4 .. num_downs-2 for the default 8).

    Convolutions carry a bias only when the norm learns no shift (as in
    pix2pix: none with BN, bias with IN), except the output layer which
    always has one. ``UnetGenerator(3)`` has 54,413,955 parameters, pix2pix's
    ``unet_256``.

    Any input size: padded (replicate, bottom/right) to a multiple of
    ``2 ** num_downs`` and cropped back.

    Args:
        in_channels (int): input channels.
        out_channels (int): image channels.
        base_channels (int): width of the outermost level.
        num_downs (int): number of levels (>= 2); 8 for 256x256 inputs.
        norm_cfg (dict, optional): norm config; pix2pix uses BN.
        use_dropout (bool): dropout 0.5 in the saturated inner levels.
        init_cfg (dict, optional): mmengine init config.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int = 3,
                 base_channels: int = 64,
                 num_downs: int = 8,
                 norm_cfg: Optional[dict] = dict(type='BN'),
                 use_dropout: bool = True,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if num_downs < 2:
            raise ValueError(f'num_downs must be >= 2, got {num_downs}')
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.num_downs = num_downs
        widths = [base_channels * min(2**k, 8) for k in range(num_downs)]
        bias = not norm_has_shift(norm_cfg, widths[0])
        innermost = num_downs - 1

        down_blocks: List[nn.Module] = []
        up_blocks: List[nn.Module] = []
        for k in range(num_downs):
            down_in = in_channels if k == 0 else widths[k - 1]
            down = ConvNormAct(
                down_in, widths[k], kernel_size=4, stride=2, padding=1,
                norm_cfg=norm_cfg if 0 < k < innermost else None,
                act_cfg=None, bias=bias)
            # Not in place: the input of a down layer is also a skip tensor.
            pre_act = build_act(dict(type='LeakyReLU', negative_slope=0.2))
            down_blocks.append(down if k == 0 else nn.Sequential(pre_act, down))

            up_in = widths[k] if k == innermost else 2 * widths[k]
            is_output = k == 0
            up = ConvNormAct(
                up_in, out_channels if is_output else widths[k - 1],
                kernel_size=4, stride=2, padding=1, transposed=True,
                norm_cfg=None if is_output else norm_cfg,
                act_cfg=dict(type='Tanh') if is_output else None,
                bias=True if is_output else bias)
            up_layers = [build_act(dict(type='ReLU', inplace=True)), up]
            if use_dropout and 0 < k < innermost and widths[k - 1] == widths[k]:
                up_layers.append(nn.Dropout(0.5))
            up_blocks.append(nn.Sequential(*up_layers))
        # Both lists are indexed by level, outermost first.
        self.down_blocks = nn.ModuleList(down_blocks)
        self.up_blocks = nn.ModuleList(up_blocks)
        init_normal_(self)

    @property
    def size_multiple(self) -> int:
        """Input H and W are padded to a multiple of this."""
        return 2**self.num_downs

    def forward(self, x: Tensor) -> Tensor:
        """Input ``[B, in, H, W]`` -> image ``[B, out, H, W]`` in [-1, 1]."""
        height, width = x.shape[-2:]
        h = pad_to_multiple(x, self.size_multiple)
        skips = []
        for down in self.down_blocks:
            h = down(h)
            skips.append(h)
        h = skips.pop()  # the innermost output feeds the up path directly
        for up in reversed(self.up_blocks):
            h = up(h)
            if skips:
                h = torch.cat([skips.pop(), h], dim=1)
        return h[..., :height, :width]
