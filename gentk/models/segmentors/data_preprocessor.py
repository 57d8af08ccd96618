"""Photos in, normalised tensors out: the segmentors' data preprocessor.

It reads the packed samples every gentk dataset produces (``inputs['img']``
uint8 [3, H, W] RGB, ``inputs['label']`` int64 [H, W]); give the dataset
``use_train_ids=True`` for the 19 Cityscapes train ids with 255 = ignore.
"""
from typing import Sequence, Union

import torch
from mmengine.model import BaseDataPreprocessor
from torch import Tensor

from gentk.registry import MODELS

from ..batch_stacking import stack_batch

#: ImageNet statistics on the 0..255 scale, RGB order (what ImageNet-trained
#: backbones and mmsegmentation's released checkpoints expect).
IMAGENET_MEAN = (123.675, 116.28, 103.53)
IMAGENET_STD = (58.395, 57.12, 57.375)


@MODELS.register_module()
class SegDataPreprocessor(BaseDataPreprocessor):
    """Stack a batch on the model's device; photos -> ``(x - mean) / std``.

    Output: ``{'inputs': {'img': float [B,3,H,W], 'label': int64 [B,H,W]},
    'data_samples': ...}``; ``label`` only where the samples have one.
    All images of a batch must share one size (crop or resize in the
    pipeline). ``mean``/``std`` are non-persistent buffers: no state-dict
    keys.

    Args:
        mean: per-channel mean on the 0..255 scale, RGB.
        std: per-channel standard deviation on the 0..255 scale, RGB.
    """

    def __init__(self, mean: Sequence[float] = IMAGENET_MEAN,
                 std: Sequence[float] = IMAGENET_STD,
                 non_blocking: bool = False):
        super().__init__(non_blocking=non_blocking)
        if len(mean) != 3 or len(std) != 3:
            raise ValueError('SegDataPreprocessor: mean and std need three '
                             f'(RGB) values, got {mean!r} and {std!r}')
        self.register_buffer('mean', torch.tensor(mean).view(1, 3, 1, 1),
                             persistent=False)
        self.register_buffer('std', torch.tensor(std).view(1, 3, 1, 1),
                             persistent=False)

    def forward(self, data: dict, training: bool = False) -> dict:
        inputs = data['inputs']
        out = {'img': self.normalize(self._stack(inputs['img'], 'img'))}
        if inputs.get('label') is not None:
            label = self._stack(inputs['label'], 'label').long()
            out['label'] = label.squeeze(1) if label.dim() == 4 else label
        return {'inputs': out, 'data_samples': data.get('data_samples')}

    def normalize(self, img: Tensor) -> Tensor:
        """Photos on the 0..255 scale (uint8 or float) -> network input."""
        return (img.to(self.mean.device).float() - self.mean) / self.std

    def from_minus1_1(self, img: Tensor) -> Tensor:
        """Float photos in [-1, 1] (gentk's generator output) -> network
        input. Differentiable, so a generator can learn through it."""
        return self.normalize((img.float() + 1.0) * 127.5)

    def _stack(self, value: Union[Tensor, Sequence[Tensor]], key: str) -> Tensor:
        return stack_batch(value, key, 'SegDataPreprocessor', self.device,
                           self._non_blocking)
