"""Helpers for the PSPNet tests: build from a config, a small PSPNet with
the real structure, the config paths."""
import os

import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

import gentk.models  # noqa: F401
from gentk.registry import MODELS

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
R50_CITYSCAPES = os.path.join(
    REPO, 'configs/pspnet/pspnet_r50-d8_cityscapes_512x1024_80k.py')
R101_CITYSCAPES = os.path.join(
    REPO, 'configs/pspnet/pspnet_r101-d8_cityscapes_512x1024_80k.py')
R18_SYNTHETIC = os.path.join(REPO, 'configs/pspnet/pspnet_r18-d8_synthetic_256x128.py')


def build(cfg, device='cpu'):
    with DefaultScope.overwrite_default_scope('gentk'), torch.device(device):
        return MODELS.build(cfg)


def model_from_config(path, device='meta', **model_options):
    cfg = Config.fromfile(path)
    cfg.merge_from_dict({'model': model_options})
    return build(cfg.model, device)


def layout_of(model):
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def tiny_pspnet(depth=18, base=8, channels=16, aux_channels=8, num_classes=19,
                **head_options):
    """A small PSPNet with the real structure (r18/r50 blocks, OS 8)."""
    return build(dict(
        type='EncoderDecoderSegmentor', num_classes=num_classes,
        backbone=dict(type='ResNetV1c', depth=depth, stem_channels=base,
                      base_channels=base),
        decode_head=dict(type='PSPHead', in_index=3, channels=channels,
                         **head_options),
        auxiliary_head=dict(
            type='FCNHead', in_index=2, channels=aux_channels, num_convs=1,
            concat_input=False,
            loss=dict(type='SegCrossEntropyLoss', loss_weight=0.4,
                      loss_name='loss_aux'))))
