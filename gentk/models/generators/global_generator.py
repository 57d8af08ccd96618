"""pix2pixHD's global generator G1 (Appendix B)."""
from typing import Optional

from mmengine.model import BaseModule
from torch import Tensor, nn

from gentk.registry import MODELS
from ..layers import (ConvNormAct, ResidualBlock, init_normal_, is_channels_last,
                      pad_to_multiple, to_channels_last)


def output_head(in_channels: int, out_channels: int,
                padding_mode: str = 'reflect') -> ConvNormAct:
    """``c7s1-k`` without norm, ending in tanh: features -> image in [-1, 1]."""
    return ConvNormAct(in_channels, out_channels, kernel_size=7, padding=3,
                       padding_mode=padding_mode, norm_cfg=None,
                       act_cfg=dict(type='Tanh'), bias=True)


def upsample_block(in_channels: int, out_channels: int,
                   norm_cfg: Optional[dict], act_cfg: Optional[dict]
                   ) -> ConvNormAct:
    """``uk``: 3x3 fractionally strided convolution, exact 2x upsampling."""
    return ConvNormAct(in_channels, out_channels, kernel_size=3, stride=2,
                       padding=1, output_padding=1, transposed=True,
                       norm_cfg=norm_cfg, act_cfg=act_cfg)


def downsample_block(in_channels: int, out_channels: int,
                     norm_cfg: Optional[dict], act_cfg: Optional[dict]
                     ) -> ConvNormAct:
    """``dk``: 3x3 stride-2 convolution. Zero padding, as in the reference
    implementation; reflection is used for the stride-1 layers."""
    return ConvNormAct(in_channels, out_channels, kernel_size=3, stride=2,
                       padding=1, norm_cfg=norm_cfg, act_cfg=act_cfg)


@MODELS.register_module()
class GlobalGenerator(BaseModule):
    """Residual encoder-decoder generator:
    ``c7s1-b, d2b, ..., d(2^n b), R(2^n b) x m, u(2^(n-1) b), ..., ub, c7s1-3``.

    With the defaults and 36 input channels (35 Cityscapes labels + instance
    edges) it is the paper's G1: 182,546,755 parameters.

    Inputs of any size work: the input is padded (replicate, bottom/right) to
    a multiple of ``2 ** num_downsamples`` (at least two, so the bottleneck
    is >= 2x2 for its reflection padding) and every output is cropped back
    to the input's H x W.

    Weights are initialised at construction (N(0, 0.02), see
    ``init_normal_``); ``init_cfg`` (e.g. ``Pretrained``) is applied on top
    by ``init_weights()``.

    Args:
        in_channels (int): input channels (labels + edges + features).
        out_channels (int): image channels.
        base_channels (int): width of the first and last feature maps.
        num_downsamples (int): stride-2 stages; widths double at each one.
        num_blocks (int): residual blocks at the bottleneck.
        norm_cfg (dict, optional): norm config; pix2pixHD uses
            ``dict(type='IN')`` (no affine parameters, no running stats).
        act_cfg (dict, optional): activation of every hidden layer.
        padding_mode (str): padding of the stride-1 convolutions.
        one_hot_channels (int): the first input channels are a one-hot
            label map (``Pix2PixHD`` sets its classes): the first
            convolution then runs as a table lookup on CPU (see
            ``layers.Conv2d``); 0 declares nothing.
        dropout (float): dropout inside each residual block.
        with_head (bool): build the final ``c7s1-3`` + tanh. ``False`` is the
            trunk used inside ``LocalEnhancer``; ``forward`` then returns the
            features.
        init_cfg (dict, optional): mmengine init config.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int = 3,
                 base_channels: int = 64,
                 num_downsamples: int = 4,
                 num_blocks: int = 9,
                 norm_cfg: Optional[dict] = dict(type='IN'),
                 act_cfg: Optional[dict] = dict(type='ReLU', inplace=True),
                 padding_mode: str = 'reflect',
                 one_hot_channels: int = 0,
                 dropout: float = 0.0,
                 with_head: bool = True,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.in_channels = in_channels
        self.out_channels = out_channels if with_head else base_channels
        self.feature_channels = base_channels
        self.num_downsamples = num_downsamples
        widths = [base_channels * 2**i for i in range(num_downsamples + 1)]

        self.stem = ConvNormAct(in_channels, base_channels, kernel_size=7,
                                padding=3, padding_mode=padding_mode,
                                norm_cfg=norm_cfg, act_cfg=act_cfg,
                                one_hot_channels=one_hot_channels)
        self.downsample = nn.Sequential(*[
            downsample_block(c_in, c_out, norm_cfg, act_cfg)
            for c_in, c_out in zip(widths[:-1], widths[1:])])
        self.blocks = nn.Sequential(*[
            ResidualBlock(widths[-1], norm_cfg=norm_cfg, act_cfg=act_cfg,
                          padding_mode=padding_mode, dropout=dropout)
            for _ in range(num_blocks)])
        self.upsample = nn.Sequential(*[
            upsample_block(c_in, c_out, norm_cfg, act_cfg)
            for c_in, c_out in zip(widths[:0:-1], widths[-2::-1])])
        self.head = output_head(base_channels, out_channels, padding_mode) \
            if with_head else None
        init_normal_(self)

    @property
    def size_multiple(self) -> int:
        """Input H and W are padded to a multiple of this."""
        return 2**self.num_downsamples

    def _features(self, x: Tensor) -> Tensor:
        """Trunk on an already padded input."""
        x = self.downsample(self.stem(x))
        # On CPU the residual blocks run NCHW whatever the input's layout:
        # for wide 3x3 convolutions oneDNN's blocked NCHW kernels beat its
        # NHWC ones (1024 channels at 16x32 on two cores: 33 vs 38 ms; 512:
        # 8.2 vs 8.8 ms), while at the narrow full-resolution layers NHWC
        # wins. Paper networks at 512x256: 1.03 -> 0.93 s per image.
        channels_last = is_channels_last(x)
        if x.device.type == 'cpu':
            x = to_channels_last(x, False)
        return self.upsample(to_channels_last(self.blocks(x), channels_last))

    def forward_features(self, x: Tensor) -> Tensor:
        """Return the last feature map (``ub``: ``base_channels`` channels) at
        the input's resolution."""
        height, width = x.shape[-2:]
        padded = pad_to_multiple(x, self.size_multiple, min_multiples=2)
        return self._features(padded)[..., :height, :width]

    def forward(self, x: Tensor) -> Tensor:
        """Label map ``[B, in, H, W]`` -> image ``[B, out, H, W]`` in [-1, 1]
        (features if built without a head)."""
        if self.head is None:
            return self.forward_features(x)
        height, width = x.shape[-2:]
        padded = pad_to_multiple(x, self.size_multiple, min_multiples=2)
        # The head runs before the crop so its reflection padding never sees
        # a map smaller than 4 pixels.
        return self.head(self._features(padded))[..., :height, :width]
