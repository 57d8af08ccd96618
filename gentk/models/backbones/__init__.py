"""Backbones: importing this package registers them in ``MODELS``."""
from .resnet import ResNetV1c
from .resnet_blocks import BasicBlock, Bottleneck, make_stage

__all__ = ['BasicBlock', 'Bottleneck', 'ResNetV1c', 'make_stage']
