"""pix2pixHD's multi-scale discriminator (Sec. 3.2)."""
from typing import List, Optional

from mmengine.model import BaseModule
from torch import Tensor, nn

from gentk.registry import MODELS
from .nlayer_discriminator import NLayerDiscriminator


@MODELS.register_module()
class MultiScaleDiscriminator(BaseModule):
    """``num_scales`` independent ``NLayerDiscriminator``s of the same
    architecture; ``self.discriminators[k]`` sees the input down-sampled
    ``k`` times by a 3x3 stride-2 average pool (scale 0: full resolution).

    The remaining arguments are those of ``NLayerDiscriminator``, shared by
    every scale. (In the reference code the full-resolution discriminator is
    the one named with the highest index; a weight converter maps
    ``scale{num_scales - 1 - k}`` to ``discriminators.{k}``.)

    Args:
        in_channels (int): channels of the (condition, image) pair.
        num_scales (int): number of discriminators / scales.
        base_channels, num_layers, max_channels, norm_cfg, act_cfg,
        kernel_size, padding: see ``NLayerDiscriminator``.
        one_hot_channels (int): the first input channels are a one-hot
            label map; declared to the finest scale only (the coarser ones
            see it averaged). See ``NLayerDiscriminator``.
        init_cfg (dict, optional): mmengine init config.
    """

    def __init__(self,
                 in_channels: int,
                 num_scales: int = 2,
                 base_channels: int = 64,
                 num_layers: int = 3,
                 max_channels: int = 512,
                 norm_cfg: Optional[dict] = dict(type='IN'),
                 act_cfg: Optional[dict] = dict(
                     type='LeakyReLU', negative_slope=0.2, inplace=True),
                 kernel_size: int = 4,
                 padding: int = 2,
                 one_hot_channels: int = 0,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.in_channels = in_channels
        self.discriminators = nn.ModuleList([
            NLayerDiscriminator(
                in_channels, base_channels=base_channels,
                num_layers=num_layers, max_channels=max_channels,
                norm_cfg=norm_cfg, act_cfg=act_cfg, kernel_size=kernel_size,
                padding=padding,
                one_hot_channels=one_hot_channels if scale == 0 else 0)
            for scale in range(num_scales)])
        # count_include_pad=False: border averages use real pixels only.
        self.downsample = nn.AvgPool2d(3, stride=2, padding=1,
                                       count_include_pad=False)

    def forward(self, x: Tensor) -> List[List[Tensor]]:
        """Return, per scale (finest first), that discriminator's list of
        block outputs ending with its prediction map."""
        outputs = []
        for scale, discriminator in enumerate(self.discriminators):
            if scale > 0:
                x = self.downsample(x)
            outputs.extend(discriminator(x))   # its one scale
        return outputs
