"""pix2pixHD's coarse-to-fine generator: G1 plus local enhancers (Sec. 3.2)."""
from typing import Optional

from mmengine.model import BaseModule
from torch import Tensor, nn

from gentk.registry import MODELS
from ..layers import ConvNormAct, ResidualBlock, init_normal_, pad_to_multiple
from .global_generator import (GlobalGenerator, downsample_block, output_head,
                               upsample_block)


class EnhancerStage(nn.Module):
    """One local enhancer ``c7s1-k, d2k, R2k x m, uk [, c7s1-3]``.

    The residual blocks see the sum of this stage's down-sampled label
    features and the previous (coarser) stage's last feature map, which has
    ``2k`` channels at half this stage's resolution.

    Args:
        in_channels (int): label-map channels.
        channels (int): ``k``, this stage's output width.
        num_blocks (int): residual blocks.
        out_channels (int, optional): build the image head with this many
            channels (only the finest stage has one).
        norm_cfg, act_cfg, padding_mode, one_hot_channels: as in
            ``GlobalGenerator``.
    """

    def __init__(self,
                 in_channels: int,
                 channels: int,
                 num_blocks: int = 3,
                 out_channels: Optional[int] = None,
                 norm_cfg: Optional[dict] = dict(type='IN'),
                 act_cfg: Optional[dict] = dict(type='ReLU', inplace=True),
                 padding_mode: str = 'reflect',
                 one_hot_channels: int = 0) -> None:
        super().__init__()
        self.downsample = nn.Sequential(
            ConvNormAct(in_channels, channels, kernel_size=7, padding=3,
                        padding_mode=padding_mode, norm_cfg=norm_cfg,
                        act_cfg=act_cfg, one_hot_channels=one_hot_channels),
            downsample_block(channels, channels * 2, norm_cfg, act_cfg))
        self.blocks = nn.Sequential(*[
            ResidualBlock(channels * 2, norm_cfg=norm_cfg, act_cfg=act_cfg,
                          padding_mode=padding_mode)
            for _ in range(num_blocks)])
        self.upsample = upsample_block(channels * 2, channels, norm_cfg,
                                       act_cfg)
        self.head = None if out_channels is None else output_head(
            channels, out_channels, padding_mode)

    def forward(self, label: Tensor, coarse_features: Tensor) -> Tensor:
        """Return this stage's last feature map (``k`` channels, the label
        map's resolution)."""
        return self.upsample(self.blocks(self.downsample(label) + coarse_features))


@MODELS.register_module()
class LocalEnhancer(BaseModule):
    """Global generator G1 on a down-sampled input, refined by
    ``num_enhancers`` local enhancers at successively doubled resolutions.

    The global generator has ``base_channels * 2 ** num_enhancers`` base
    channels and no head; enhancer ``i`` (``self.enhancers[i]``, coarsest
    first) has ``base_channels * 2 ** (num_enhancers - 1 - i)`` channels and
    sees the input down-sampled ``num_enhancers - 1 - i`` times by a 3x3
    average pool. With 36 input channels and the defaults this is the
    paper's G = {G1, G2}: 182,857,059 parameters.

    Any input size: padded (replicate, bottom/right) to a multiple of
    ``2 ** (num_downsamples + num_enhancers)`` (at least two), cropped back.

    Staged training (pix2pixHD Sec. 3.2) loads a trained ``GlobalGenerator``
    of width ``base_channels * 2 ** num_enhancers`` into
    ``self.global_generator``, without its ``head.*`` keys.

    Args:
        in_channels (int): input channels.
        out_channels (int): image channels.
        base_channels (int): width of the finest enhancer.
        num_enhancers (int): number of local enhancers (>= 1).
        num_blocks (int): residual blocks per enhancer.
        global_cfg (dict, optional): further ``GlobalGenerator`` arguments
            (``num_downsamples``, ``num_blocks``, ``dropout``); its width,
            norm, activation and padding follow this module's arguments.
            Default ``dict(num_downsamples=4, num_blocks=9)``.
        norm_cfg, act_cfg, padding_mode: as in ``GlobalGenerator``, shared by
            every stage.
        one_hot_channels (int): as in ``GlobalGenerator``, for the finest
            enhancer's first convolution.
        init_cfg (dict, optional): mmengine init config.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int = 3,
                 base_channels: int = 32,
                 num_enhancers: int = 1,
                 num_blocks: int = 3,
                 global_cfg: Optional[dict] = None,
                 norm_cfg: Optional[dict] = dict(type='IN'),
                 act_cfg: Optional[dict] = dict(type='ReLU', inplace=True),
                 padding_mode: str = 'reflect',
                 one_hot_channels: int = 0,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if num_enhancers < 1:
            raise ValueError('LocalEnhancer needs num_enhancers >= 1; use '
                             'GlobalGenerator for a single scale')
        global_cfg = dict(num_downsamples=4, num_blocks=9) \
            if global_cfg is None else dict(global_cfg)
        owned = {'in_channels', 'out_channels', 'base_channels', 'norm_cfg',
                 'act_cfg', 'padding_mode', 'with_head', 'init_cfg'}
        clashes = sorted(owned & set(global_cfg))
        if clashes:
            raise ValueError(f'global_cfg may not set {clashes}; they follow '
                             'the LocalEnhancer arguments')
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.feature_channels = base_channels
        self.num_enhancers = num_enhancers
        shared = dict(norm_cfg=norm_cfg, act_cfg=act_cfg,
                      padding_mode=padding_mode)

        self.global_generator = GlobalGenerator(
            in_channels, base_channels=base_channels * 2**num_enhancers,
            with_head=False, **shared, **global_cfg)
        self.enhancers = nn.ModuleList([
            EnhancerStage(
                in_channels, base_channels * 2**(num_enhancers - 1 - i),
                num_blocks=num_blocks,
                out_channels=out_channels if i == num_enhancers - 1 else None,
                # Only the finest stage sees the label map as given; the
                # others get averaged (no longer one-hot) copies.
                one_hot_channels=one_hot_channels
                if i == num_enhancers - 1 else 0,
                **shared)
            for i in range(num_enhancers)])
        # The reference's input pyramid; count_include_pad=False keeps border
        # pixels an average of real pixels only.
        self.input_downsample = nn.AvgPool2d(3, stride=2, padding=1,
                                             count_include_pad=False)
        init_normal_(self.enhancers)  # the global generator inits itself

    @property
    def size_multiple(self) -> int:
        """Input H and W are padded to a multiple of this."""
        return self.global_generator.size_multiple * 2**self.num_enhancers

    def _features(self, x: Tensor) -> Tensor:
        """All stages on an already padded input."""
        pyramid = [x]  # finest first
        for _ in range(self.num_enhancers):
            pyramid.append(self.input_downsample(pyramid[-1]))
        features = self.global_generator.forward_features(pyramid[-1])
        for enhancer, label in zip(self.enhancers, reversed(pyramid[:-1])):
            features = enhancer(label, features)
        return features

    def forward_features(self, x: Tensor) -> Tensor:
        """Return the finest enhancer's last feature map (``base_channels``
        channels) at the input's resolution."""
        height, width = x.shape[-2:]
        padded = pad_to_multiple(x, self.size_multiple, min_multiples=2)
        return self._features(padded)[..., :height, :width]

    def forward(self, x: Tensor) -> Tensor:
        """Label map ``[B, in, H, W]`` -> image ``[B, out, H, W]`` in [-1, 1]."""
        height, width = x.shape[-2:]
        padded = pad_to_multiple(x, self.size_multiple, min_multiples=2)
        image = self.enhancers[-1].head(self._features(padded))
        return image[..., :height, :width]
