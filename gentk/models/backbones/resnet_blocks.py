"""ResNet residual blocks and stages with mmsegmentation's parameter names.

Attribute names (``conv1``, ``bn1``, ..., ``downsample.0``/``.1``) are part of
the weight-file format: mmsegmentation's released PSPNet checkpoints load
into these modules without renaming. ``bn*`` is the name whatever the norm
config (it is the checkpoints' name, not a claim about the layer type).
"""
from typing import Optional, Type, Union

from torch import Tensor, nn

from ..layers import build_act, build_norm

RELU = dict(type='ReLU', inplace=True)


def conv3x3(in_channels: int, out_channels: int, stride: int = 1,
            dilation: int = 1) -> nn.Conv2d:
    """3x3 convolution whose padding keeps the size (before the stride)."""
    return nn.Conv2d(in_channels, out_channels, 3, stride=stride,
                     padding=dilation, dilation=dilation, bias=False)


def conv1x1(in_channels: int, out_channels: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False)


class BasicBlock(nn.Module):
    """Two 3x3 convolutions and an identity (or projected) shortcut.

    As in mmsegmentation, only the first convolution is dilated; the second
    is a plain 3x3 (padding 1). Keeping that quirk keeps released
    ResNet-18/34 segmentation checkpoints exact.

    Args:
        in_channels: input channels.
        planes: output channels (``expansion`` = 1).
        stride: stride of the first convolution.
        dilation: dilation of the first convolution.
        downsample: shortcut projection when the shape changes, else None.
        norm_cfg / act_cfg: norm and activation configs.
    """

    expansion = 1

    def __init__(self, in_channels: int, planes: int, stride: int = 1,
                 dilation: int = 1, downsample: Optional[nn.Module] = None,
                 norm_cfg: Optional[dict] = dict(type='BN'),
                 act_cfg: Optional[dict] = RELU):
        super().__init__()
        self.conv1 = conv3x3(in_channels, planes, stride, dilation)
        self.bn1 = build_norm(norm_cfg, planes)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = build_norm(norm_cfg, planes)
        self.act = build_act(act_cfg)
        self.downsample = downsample

    @property
    def last_norm(self) -> nn.Module:
        """The norm before the residual sum (zero-initialised)."""
        return self.bn2

    def forward(self, x: Tensor) -> Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        out = self.act(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.act(out + shortcut)


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3 (strided, dilated), 1x1 expand (x4), plus shortcut.

    The stride sits on the 3x3 convolution ("pytorch" style, ResNet V1b/c).

    Args: as :class:`BasicBlock`; the output has ``planes * 4`` channels.
    """

    expansion = 4

    def __init__(self, in_channels: int, planes: int, stride: int = 1,
                 dilation: int = 1, downsample: Optional[nn.Module] = None,
                 norm_cfg: Optional[dict] = dict(type='BN'),
                 act_cfg: Optional[dict] = RELU):
        super().__init__()
        out_channels = planes * self.expansion
        self.conv1 = conv1x1(in_channels, planes)
        self.bn1 = build_norm(norm_cfg, planes)
        self.conv2 = conv3x3(planes, planes, stride, dilation)
        self.bn2 = build_norm(norm_cfg, planes)
        self.conv3 = conv1x1(planes, out_channels)
        self.bn3 = build_norm(norm_cfg, out_channels)
        self.act = build_act(act_cfg)
        self.downsample = downsample

    @property
    def last_norm(self) -> nn.Module:
        return self.bn3

    def forward(self, x: Tensor) -> Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        out = self.act(self.bn1(self.conv1(x)))
        out = self.act(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.act(out + shortcut)


Block = Type[Union[BasicBlock, Bottleneck]]


def make_stage(block: Block, in_channels: int, planes: int, num_blocks: int,
               stride: int = 1, dilation: int = 1,
               contract_dilation: bool = False,
               norm_cfg: Optional[dict] = dict(type='BN'),
               act_cfg: Optional[dict] = RELU) -> nn.Sequential:
    """One ResNet stage (``layerN``): ``num_blocks`` blocks, the first one
    carrying the stride and, where shapes change, a 1x1 projection shortcut
    (``downsample.0`` conv, ``downsample.1`` norm).

    ``contract_dilation``: the first block of a dilated stage uses half the
    dilation (2 -> 1, 4 -> 2), which eases the jump from the previous
    stage's spacing ("contract" in mmsegmentation's ``ResLayer``).
    """
    out_channels = planes * block.expansion
    downsample = None
    if stride != 1 or in_channels != out_channels:
        downsample = nn.Sequential(conv1x1(in_channels, out_channels, stride),
                                   build_norm(norm_cfg, out_channels))
    first_dilation = (dilation // 2 if contract_dilation and dilation > 1
                      else dilation)
    blocks = [block(in_channels, planes, stride, first_dilation, downsample,
                    norm_cfg, act_cfg)]
    blocks += [block(out_channels, planes, 1, dilation, None, norm_cfg, act_cfg)
               for _ in range(num_blocks - 1)]
    return nn.Sequential(*blocks)
