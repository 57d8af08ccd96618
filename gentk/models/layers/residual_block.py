"""Residual block with two 3x3 convolutions (pix2pixHD's ``Rk``)."""
from typing import Optional, Union

from torch import Tensor, nn

from .conv_norm_act import ConvNormAct


class ResidualBlock(nn.Module):
    """``x + norm(conv(dropout(act(norm(conv(x))))))`` at constant width.

    Args:
        channels (int): input and output channels.
        norm_cfg (dict, optional): norm config (see ``build_norm``).
        act_cfg (dict, optional): activation after the first convolution.
        padding_mode (str): padding of both 3x3 convolutions; ``'reflect'``
            reduces boundary artifacts (pix2pixHD, Appendix B).
        dropout (float): dropout probability between the convolutions.
        bias (bool | str): convolution bias, see ``ConvNormAct``.
    """

    def __init__(self,
                 channels: int,
                 norm_cfg: Optional[dict] = dict(type='IN'),
                 act_cfg: Optional[dict] = dict(type='ReLU', inplace=True),
                 padding_mode: str = 'reflect',
                 dropout: float = 0.0,
                 bias: Union[bool, str] = 'auto') -> None:
        super().__init__()
        conv_args = dict(kernel_size=3, padding=1, padding_mode=padding_mode,
                         norm_cfg=norm_cfg, bias=bias)
        layers = [ConvNormAct(channels, channels, act_cfg=act_cfg, **conv_args)]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        layers.append(ConvNormAct(channels, channels, act_cfg=None, **conv_args))
        self.body = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)
