"""pix2pixHD's instance-wise feature encoder E (Sec. 3.4)."""
from typing import Optional

from mmengine.model import BaseModule
from torch import Tensor

from gentk.registry import MODELS
from ..generators import GlobalGenerator
from ..layers import instance_average_pool


@MODELS.register_module()
class InstanceFeatureEncoder(BaseModule):
    """Encoder-decoder ``c7s1-16, d32, ..., d256, u128, ..., u16, c7s1-3``
    (tanh) followed by instance-wise average pooling, so every instance gets
    one low-dimensional feature vector broadcast over its pixels.

    The encoder-decoder is a ``GlobalGenerator`` without residual blocks,
    which also gives it the any-input-size padding and cropping.

    Args:
        in_channels (int): image channels.
        out_channels (int): feature dimension per instance.
        base_channels (int): width of the first and last feature maps.
        num_downsamples (int): stride-2 stages.
        norm_cfg (dict, optional): norm config.
        act_cfg (dict, optional): activation of every hidden layer.
        padding_mode (str): padding of the stride-1 convolutions.
        init_cfg (dict, optional): mmengine init config.
    """

    def __init__(self,
                 in_channels: int = 3,
                 out_channels: int = 3,
                 base_channels: int = 16,
                 num_downsamples: int = 4,
                 norm_cfg: Optional[dict] = dict(type='IN'),
                 act_cfg: Optional[dict] = dict(type='ReLU', inplace=True),
                 padding_mode: str = 'reflect',
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.encoder_decoder = GlobalGenerator(
            in_channels, out_channels, base_channels=base_channels,
            num_downsamples=num_downsamples, num_blocks=0, norm_cfg=norm_cfg,
            act_cfg=act_cfg, padding_mode=padding_mode)

    def forward(self, img: Tensor, inst: Tensor) -> Tensor:
        """Image ``[B, in, H, W]`` and instance ids ``[B, H, W]`` (or
        ``[B, 1, H, W]``) -> features ``[B, out, H, W]`` in [-1, 1], constant
        within each instance."""
        return instance_average_pool(self.encoder_decoder(img), inst)
