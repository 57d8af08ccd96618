"""PatchGAN discriminator (pix2pix / pix2pixHD Appendix C)."""
from typing import List, Optional

from mmengine.model import BaseModule
from torch import Tensor, nn

from gentk.registry import MODELS
from ..layers import ConvNormAct, init_normal_


@MODELS.register_module()
class NLayerDiscriminator(BaseModule):
    """``C64-C128-C256-C512`` then a 1-channel convolution.

    ``Ck`` is a ``kernel_size`` convolution - norm - LeakyReLU(0.2) with
    ``k`` filters; the first has no norm, the first ``num_layers`` have
    stride 2 and the last ``Ck`` and the prediction convolution stride 1.
    Widths double from ``base_channels`` up to ``max_channels``.

    pix2pixHD: ``padding=2`` (= ceil((4 - 1) / 2)) and IN; with 39 input
    channels (35 labels + edges + RGB) it has 2,801,601 parameters. pix2pix's
    70x70 PatchGAN is the same class with ``padding=1`` and
    ``norm_cfg=dict(type='BN')``. Convolution biases follow ``'auto'``: none
    before a norm that learns a shift (BN), one otherwise.

    Args:
        in_channels (int): channels of the (condition, image) pair.
        base_channels (int): width of the first layer.
        num_layers (int): stride-2 layers.
        max_channels (int): width cap.
        norm_cfg (dict, optional): norm of every layer but the first.
        act_cfg (dict, optional): activation of every layer but the last.
        kernel_size (int): square kernel size.
        padding (int): padding of every convolution.
        one_hot_channels (int): the first input channels are a one-hot
            label map (``Pix2PixHD`` sets its classes): the first
            convolution then runs its forward as a table lookup on CPU (see
            ``layers.Conv2d``); 0 declares nothing.
        init_cfg (dict, optional): mmengine init config.
    """

    def __init__(self,
                 in_channels: int,
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
        widths = [min(base_channels * 2**i, max_channels)
                  for i in range(num_layers + 1)]
        in_widths = [in_channels] + widths[:-1]
        self.blocks = nn.ModuleList([
            ConvNormAct(c_in, c_out, kernel_size,
                        stride=2 if i < num_layers else 1, padding=padding,
                        norm_cfg=norm_cfg if i > 0 else None, act_cfg=act_cfg,
                        one_hot_channels=one_hot_channels if i == 0 else 0)
            for i, (c_in, c_out) in enumerate(zip(in_widths, widths))])
        self.classifier = nn.Conv2d(widths[-1], 1, kernel_size, stride=1,
                                    padding=padding)
        init_normal_(self)

    def forward(self, x: Tensor) -> List[List[Tensor]]:
        """Return one scale's outputs, ``[[block_1, ..., prediction]]``:
        every block's output then the prediction map (logits, ``[B, 1, h,
        w]``), ``num_layers + 2`` tensors, so feature matching can tap all
        but the last. The outer list is the one-scale layout every loss
        reads (``losses/discriminator_outputs.py``): a flat list would be
        taken for one prediction per scale."""
        outputs = []
        for block in self.blocks:
            x = block(x)
            outputs.append(x)
        outputs.append(self.classifier(x))
        return [outputs]
