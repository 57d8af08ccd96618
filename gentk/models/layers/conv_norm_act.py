"""Convolution -> normalisation -> activation, each chosen by config."""
from typing import Optional, Union

from mmcv.cnn import build_activation_layer
from mmcv.cnn import build_norm_layer as mmcv_build_norm_layer
from torch import Tensor, nn

from .instance_norm import InstanceNorm2d
from .matmul_conv import Conv2d
from .transposed_conv import ConvTranspose2d

# 2-D instance norm is gentk's layout-preserving one (instance_norm.py).
_INSTANCE_NORM_2D = ('IN', 'IN2d', nn.InstanceNorm2d)


def build_norm(norm_cfg: Optional[dict], num_features: int) -> nn.Module:
    """Build a 2-D norm layer from a config.

    ``None`` or ``dict(type='none')`` -> ``nn.Identity``; every other type is
    built by mmcv: ``'IN'`` -> gentk's ``InstanceNorm2d`` (``nn.InstanceNorm2d``
    that keeps the input's memory format) with its defaults
    (``affine=False``, ``track_running_stats=False``, as in pix2pixHD),
    ``'BN'`` -> ``BatchNorm2d``, ``'GN'`` (needs ``num_groups``), ``'SyncBN'``...
    Extra keys are passed to the layer, e.g. ``dict(type='IN', affine=True)``.
    """
    if norm_cfg is None or str(norm_cfg.get('type', '')).lower() == 'none':
        return nn.Identity()
    if norm_cfg.get('type') in _INSTANCE_NORM_2D:
        norm_cfg = dict(norm_cfg, type=InstanceNorm2d)
    return mmcv_build_norm_layer(norm_cfg, num_features)[1]


def build_act(act_cfg: Optional[dict]) -> nn.Module:
    """Build an activation from a config (mmcv registry: ReLU, LeakyReLU, Tanh,
    Sigmoid, ...); ``None`` -> ``nn.Identity``."""
    if act_cfg is None:
        return nn.Identity()
    return build_activation_layer(dict(act_cfg))


def norm_has_shift(norm_cfg: Optional[dict], num_features: int) -> bool:
    """Whether the norm built from ``norm_cfg`` learns its own bias, which
    makes a preceding convolution bias redundant (BN: yes; IN without affine
    and no norm: no)."""
    return getattr(build_norm(norm_cfg, num_features), 'bias', None) is not None


class ConvNormAct(nn.Module):
    """A (transposed) convolution followed by a norm layer and an activation.

    Args:
        in_channels (int): input channels.
        out_channels (int): output channels.
        kernel_size (int): square kernel size.
        stride (int): convolution stride.
        padding (int): padding on each side (for a transposed convolution,
            the ``ConvTranspose2d`` meaning).
        padding_mode (str): ``'zeros'``, ``'reflect'``, ``'replicate'`` or
            ``'circular'``; transposed convolutions only support ``'zeros'``.
        norm_cfg (dict, optional): norm config, see :func:`build_norm`.
        act_cfg (dict, optional): activation config, see :func:`build_act`.
        bias (bool | str): convolution bias; ``'auto'`` adds one unless the
            norm layer learns its own shift (see :func:`norm_has_shift`).
        transposed (bool): use ``ConvTranspose2d`` (fractionally strided).
        output_padding (int): extra size on one side of a transposed
            convolution's output, e.g. 1 for an exact 2x upsampling with
            ``kernel_size=3, stride=2, padding=1``.
        one_hot_channels (int): the first input channels are a one-hot
            label map (see ``Conv2d``); not for transposed convolutions.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 kernel_size: int,
                 stride: int = 1,
                 padding: int = 0,
                 padding_mode: str = 'zeros',
                 norm_cfg: Optional[dict] = None,
                 act_cfg: Optional[dict] = dict(type='ReLU', inplace=True),
                 bias: Union[bool, str] = 'auto',
                 transposed: bool = False,
                 output_padding: int = 0,
                 one_hot_channels: int = 0) -> None:
        super().__init__()
        self.norm = build_norm(norm_cfg, out_channels)
        if bias == 'auto':
            bias = getattr(self.norm, 'bias', None) is None
        if transposed:
            if padding_mode != 'zeros' or one_hot_channels:
                raise ValueError(
                    "a transposed convolution takes padding_mode='zeros' and "
                    f'no one_hot_channels, got {padding_mode!r} and '
                    f'{one_hot_channels}')
            self.conv = ConvTranspose2d(
                in_channels, out_channels, kernel_size, stride=stride,
                padding=padding, output_padding=output_padding, bias=bias)
        else:
            if output_padding:
                raise ValueError('output_padding needs transposed=True')
            self.conv = Conv2d(
                in_channels, out_channels, kernel_size, stride=stride,
                padding=padding, padding_mode=padding_mode, bias=bias,
                one_hot_channels=one_hot_channels)
        self.act = build_act(act_cfg)

    def forward(self, x: Tensor) -> Tensor:
        return self.act(self.norm(self.conv(x)))
