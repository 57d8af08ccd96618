"""Dilated ResNet-V1c, the backbone of mmsegmentation's "-D8" models."""
from typing import Optional, Sequence, Tuple

from torch import Tensor, nn

from gentk.registry import MODELS
from ..layers import build_act, build_norm
from .resnet_blocks import RELU, BasicBlock, Bottleneck, make_stage

#: depth -> (block, blocks per stage)
ARCHITECTURES = {
    18: (BasicBlock, (2, 2, 2, 2)),
    34: (BasicBlock, (3, 4, 6, 3)),
    50: (Bottleneck, (3, 4, 6, 3)),
    101: (Bottleneck, (3, 4, 23, 3)),
    152: (Bottleneck, (3, 8, 36, 3)),
}


@MODELS.register_module()
class ResNetV1c(nn.Module):
    """ResNet with a deep stem (three 3x3 convolutions instead of one 7x7,
    "V1c" in Bag of Tricks, He et al. 2019) and dilated later stages.

    The defaults are the "-D8" setting of PSPNet: stages 3 and 4 keep the
    resolution (strides ``(1, 2, 1, 1)``) and dilate instead (``(1, 1, 2,
    4)``), so the output stride is 8 (stem 2, max-pool 2, stage 2 2). Any
    input size works; each stride-2 layer rounds up (``ceil(H / 2)``).

    Parameter names and shapes equal mmsegmentation's ``ResNetV1c``
    (``stem.0`` ... ``stem.7``, ``layerN.i.conv1``/``bn1``/...,
    ``layerN.0.downsample.0``/``.1``), so its checkpoints load directly.

    Args:
        depth: 18 or 34 (basic blocks), 50, 101 or 152 (bottlenecks).
        in_channels: image channels.
        stem_channels: output channels of the stem (its first two
            convolutions have half as many).
        base_channels: width of stage 1; stage ``i`` has
            ``base_channels * 2**i * expansion`` output channels. Smaller
            values give the narrow CPU variants.
        strides: stride of the first block of each of the four stages.
        dilations: dilation of each stage.
        contract_dilation: the first block of a dilated stage uses half the
            stage's dilation (mmsegmentation's D8 configs set True).
        out_indices: which stage outputs :meth:`forward` returns.
        norm_cfg: norm config (mmsegmentation trains with SyncBN; BN here,
            convert with ``nn.SyncBatchNorm.convert_sync_batchnorm``).
        act_cfg: activation config.
        norm_eval: keep norm layers in eval mode (frozen running
            statistics) while training, e.g. for fine-tuning at batch 1.
        zero_init_residual: start every block's last norm at zero scale so
            that each residual block begins as the identity.
    """

    def __init__(self,
                 depth: int = 50,
                 in_channels: int = 3,
                 stem_channels: int = 64,
                 base_channels: int = 64,
                 strides: Sequence[int] = (1, 2, 1, 1),
                 dilations: Sequence[int] = (1, 1, 2, 4),
                 contract_dilation: bool = True,
                 out_indices: Sequence[int] = (0, 1, 2, 3),
                 norm_cfg: Optional[dict] = dict(type='BN'),
                 act_cfg: Optional[dict] = RELU,
                 norm_eval: bool = False,
                 zero_init_residual: bool = True):
        super().__init__()
        if depth not in ARCHITECTURES:
            raise ValueError(f'ResNetV1c: depth must be one of '
                             f'{sorted(ARCHITECTURES)}, got {depth!r}')
        if len(strides) != 4 or len(dilations) != 4:
            raise ValueError('ResNetV1c: give four strides and four '
                             f'dilations, got {strides!r} and {dilations!r}')
        if not out_indices or any(i not in range(4) for i in out_indices):
            raise ValueError('ResNetV1c: out_indices must be stage indices in '
                             f'0..3, got {out_indices!r}')
        if stem_channels % 2:
            raise ValueError(f'ResNetV1c: stem_channels must be even, got '
                             f'{stem_channels}')
        block, blocks_per_stage = ARCHITECTURES[depth]
        self.depth = depth
        self.out_indices = tuple(out_indices)
        self.norm_eval = norm_eval

        half = stem_channels // 2
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, half, 3, stride=2, padding=1, bias=False),
            build_norm(norm_cfg, half), build_act(act_cfg),
            nn.Conv2d(half, half, 3, padding=1, bias=False),
            build_norm(norm_cfg, half), build_act(act_cfg),
            nn.Conv2d(half, stem_channels, 3, padding=1, bias=False),
            build_norm(norm_cfg, stem_channels), build_act(act_cfg))
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)

        channels = stem_channels
        stage_channels = []
        for i, num_blocks in enumerate(blocks_per_stage):
            stage = make_stage(block, channels, base_channels * 2**i,
                               num_blocks, strides[i], dilations[i],
                               contract_dilation, norm_cfg, act_cfg)
            self.add_module(f'layer{i + 1}', stage)
            channels = base_channels * 2**i * block.expansion
            stage_channels.append(channels)
        #: channels of each returned feature map, in ``out_indices`` order
        self.out_channels = tuple(stage_channels[i] for i in self.out_indices)
        self.init_weights(zero_init_residual)

    @property
    def stages(self) -> Tuple[nn.Sequential, ...]:
        return (self.layer1, self.layer2, self.layer3, self.layer4)

    def init_weights(self, zero_init_residual: bool = True) -> None:
        """He-normal convolutions (fan-out), unit-scale norms; optionally
        zero scale on each block's last norm (mmsegmentation's defaults)."""
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode='fan_out',
                                        nonlinearity='relu')
            elif isinstance(module, (nn.modules.batchnorm._NormBase,
                                     nn.GroupNorm)) and module.affine:
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
        if zero_init_residual:
            for stage in self.stages:
                for block in stage:
                    if getattr(block.last_norm, 'weight', None) is not None:
                        nn.init.zeros_(block.last_norm.weight)

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        """Feature maps of the stages in ``out_indices`` (a tuple)."""
        x = self.maxpool(self.stem(x))
        outs = []
        for i, stage in enumerate(self.stages):
            x = stage(x)
            if i in self.out_indices:
                outs.append(x)
            if i >= max(self.out_indices):
                break  # later stages would be computed for nothing
        return tuple(outs)

    def train(self, mode: bool = True) -> 'ResNetV1c':
        super().train(mode)
        if mode and self.norm_eval:
            for module in self.modules():
                if isinstance(module, nn.modules.batchnorm._BatchNorm):
                    module.eval()
        return self
