"""VGG19 perceptual loss as used by pix2pixHD."""
from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from gentk.registry import MODELS

from .base_loss import BaseLoss
from .vgg19 import RELU_X_1_INDICES, VGG19FeatureExtractor

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@MODELS.register_module()
class PerceptualLoss(BaseLoss):
    """``loss_weight * sum_i w_i * L1(F_i(fake), F_i(real))`` over VGG19
    activations; ``loss_name`` is ``loss_vgg``.

    Args:
        weights_path: local torchvision-layout ``vgg19`` state_dict. gentk
            never downloads it; a missing file raises ``FileNotFoundError``.
        layer_weights: ``w_i``, one per entry of ``layer_indices``; the
            default is pix2pixHD's 1/32, 1/16, 1/8, 1/4, 1.
        loss_weight: pix2pixHD uses ``lambda_feat = 10``.
        normalize_input: images come in [-1, 1]; True maps them to [0, 1] and
            then to ImageNet mean/std, the statistics VGG19 was trained on.
            The official pix2pixHD code feeds [-1, 1] directly; False
            reproduces that.
        layer_indices: torchvision ``vgg19().features`` indices to compare;
            default relu1_1, relu2_1, relu3_1, relu4_1, relu5_1.

    Real features are computed without grad (they are targets); gradients
    reach ``fake`` only, never the frozen VGG.
    """

    default_loss_name = 'loss_vgg'

    def __init__(self, weights_path: str,
                 layer_weights: Sequence[float] = (1 / 32, 1 / 16, 1 / 8, 1 / 4, 1.0),
                 loss_weight: float = 10.0, normalize_input: bool = True,
                 layer_indices: Sequence[int] = RELU_X_1_INDICES,
                 loss_name: Optional[str] = None):
        super().__init__(loss_weight, loss_name)
        if len(layer_weights) != len(layer_indices):
            raise ValueError(
                f'{len(layer_weights)} layer_weights for {len(layer_indices)} '
                'layer_indices')
        if weights_path is None:
            raise ValueError(
                self._disable_hint('perceptual_loss.weights_path is None.'))
        try:
            self.vgg = VGG19FeatureExtractor(layer_indices, weights_path)
        except FileNotFoundError as err:
            raise FileNotFoundError(self._disable_hint(
                f'VGG19 weights for the perceptual loss not found: '
                f'{weights_path!r} (config key perceptual_loss.weights_path).'
                ' gentk never downloads weights: save torchvision\'s vgg19 '
                'ImageNet state_dict to that path.')) from err
        self.layer_weights = tuple(float(w) for w in layer_weights)
        self.normalize_input = normalize_input
        # Non-persistent: constants, not weights; they follow .to(device).
        self.register_buffer('mean', torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1),
                             persistent=False)
        self.register_buffer('std', torch.tensor(IMAGENET_STD).view(1, 3, 1, 1),
                             persistent=False)

    @staticmethod
    def _disable_hint(message: str) -> str:
        return (f'{message} To train without the VGG loss, remove '
                '`perceptual_loss` from the config or set it to None.')

    def _vgg_input(self, image: Tensor) -> Tensor:
        if not self.normalize_input:
            return image
        return ((image + 1) / 2 - self.mean) / self.std

    def forward(self, fake: Tensor, real: Tensor) -> Tensor:
        fake_feats = self.vgg(self._vgg_input(fake))
        with torch.no_grad():
            real_feats = self.vgg(self._vgg_input(real))
        terms = [w * F.l1_loss(f, r)
                 for w, f, r in zip(self.layer_weights, fake_feats, real_feats)]
        return torch.stack(terms).sum() * self.loss_weight

    def extra_repr(self) -> str:
        return (f'layer_weights={self.layer_weights}, '
                f'normalize_input={self.normalize_input}, ' + super().extra_repr())
