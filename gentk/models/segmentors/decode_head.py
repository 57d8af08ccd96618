"""What every segmentation head shares: input selection, the classifier and
its loss."""
from typing import Dict, Optional, Sequence

import torch.nn.functional as F
from torch import Tensor, nn

from ..algorithms.base_gan import ModelCfg, build_module

BN = dict(type='BN')
RELU = dict(type='ReLU')


def resize_logits(logits: Tensor, size: Sequence[int],
                  align_corners: bool = False) -> Tensor:
    """Bilinear resize of [B, C, h, w] scores to ``size`` (H, W)."""
    if tuple(logits.shape[-2:]) == tuple(size):
        return logits
    return F.interpolate(logits, size=tuple(size), mode='bilinear',
                         align_corners=align_corners)


class DecodeHead(nn.Module):
    """Base of the decode heads: picks one backbone feature map, ends in
    dropout and the 1x1 classifier ``conv_seg``, and scores its logits with
    a registered loss.

    Subclasses build their layers and implement :meth:`forward`
    (``features -> logits`` at the feature resolution).

    Args:
        in_channels: channels of the selected feature map.
        channels: channels before the classifier.
        num_classes: output classes.
        in_index: which backbone output to read.
        dropout_ratio: channel dropout before the classifier (0: none).
        norm_cfg / act_cfg: configs of the convolution blocks.
        align_corners: of the head's bilinear resizes (pyramid pooling, and
            logits to the label's size in the loss); an ``EncoderDecoder``
            without its own uses the decode head's for inference too.
        loss: loss config, e.g. ``dict(type='SegCrossEntropyLoss',
            loss_weight=0.4, loss_name='loss_aux')``; None for inference.
    """

    def __init__(self,
                 in_channels: int,
                 channels: int,
                 num_classes: int,
                 in_index: int = -1,
                 dropout_ratio: float = 0.1,
                 norm_cfg: Optional[dict] = BN,
                 act_cfg: Optional[dict] = RELU,
                 align_corners: bool = False,
                 loss: Optional[ModelCfg] = dict(type='SegCrossEntropyLoss')):
        super().__init__()
        self.in_channels = in_channels
        self.channels = channels
        self.num_classes = num_classes
        self.in_index = in_index
        self.norm_cfg = norm_cfg
        self.act_cfg = act_cfg
        self.align_corners = align_corners
        # Identity keeps the state-dict keys of a head without dropout the
        # same (dropout has no weights either way).
        self.dropout = nn.Dropout2d(dropout_ratio) if dropout_ratio > 0 \
            else nn.Identity()
        self.conv_seg = nn.Conv2d(channels, num_classes, kernel_size=1)
        nn.init.normal_(self.conv_seg.weight, 0.0, 0.01)
        nn.init.zeros_(self.conv_seg.bias)
        self.loss_fn = build_module(loss)

    @property
    def ignore_index(self) -> Optional[int]:
        return getattr(self.loss_fn, 'ignore_index', None)

    def select(self, features: Sequence[Tensor]) -> Tensor:
        return features[self.in_index]

    def classify(self, feat: Tensor) -> Tensor:
        return self.conv_seg(self.dropout(feat))

    def loss(self, logits: Tensor, label: Tensor) -> Dict[str, Tensor]:
        """``{loss_name: value}`` of low-resolution ``logits`` against the
        full-resolution ``label`` [B, H, W] (logits are upsampled first)."""
        if self.loss_fn is None:
            raise RuntimeError(f'{type(self).__name__} was built without a '
                               'loss (loss=None); it cannot train')
        logits = resize_logits(logits, label.shape[-2:], self.align_corners)
        return {self.loss_fn.loss_name: self.loss_fn(logits, label)}

    def forward(self, features: Sequence[Tensor]) -> Tensor:
        raise NotImplementedError
