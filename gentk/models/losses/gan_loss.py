"""Adversarial loss for the discriminator and generator steps."""
from typing import Callable, Dict, Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from gentk.registry import MODELS

from .base_loss import BaseLoss
from .discriminator_outputs import DiscriminatorOutput, final_predictions

# An objective maps (prediction map, target_is_real, is_disc) to a scalar.
Objective = Callable[[Tensor, bool, bool], Tensor]


class _LabelTargetObjective:
    """Compares every logit with a constant label (vanilla GAN, LSGAN)."""

    def __init__(self, criterion: Callable[[Tensor, Tensor], Tensor],
                 real_label: float, fake_label: float):
        self.criterion = criterion
        self.real_label = real_label
        self.fake_label = fake_label

    def __call__(self, pred: Tensor, target_is_real: bool, is_disc: bool) -> Tensor:
        label = self.real_label if target_is_real else self.fake_label
        return self.criterion(pred, torch.full_like(pred, label))


def _wasserstein(pred: Tensor, target_is_real: bool, is_disc: bool) -> Tensor:
    # Critic scores: raise them for "real", lower them for "fake"; the same
    # rule serves D (real and fake batches) and G (fake batch, target real).
    return -pred.mean() if target_is_real else pred.mean()


def _hinge(pred: Tensor, target_is_real: bool, is_disc: bool) -> Tensor:
    if is_disc:
        margin = 1 - pred if target_is_real else 1 + pred
        return F.relu(margin).mean()
    if not target_is_real:
        raise ValueError(
            'the hinge generator loss pushes scores up (-mean); call it with '
            'target_is_real=True')
    return -pred.mean()


def _build_objective(gan_type: str, real_label: float,
                     fake_label: float) -> Objective:
    builders: Dict[str, Callable[[], Objective]] = {
        'vanilla': lambda: _LabelTargetObjective(
            F.binary_cross_entropy_with_logits, real_label, fake_label),
        'lsgan': lambda: _LabelTargetObjective(F.mse_loss, real_label, fake_label),
        'wgan': lambda: _wasserstein,
        'hinge': lambda: _hinge,
    }
    if gan_type not in builders:
        raise ValueError(
            f'unknown gan_type {gan_type!r}; choose one of {sorted(builders)}')
    return builders[gan_type]()


@MODELS.register_module()
class GANLoss(BaseLoss):
    """Adversarial loss; ``loss_name`` is ``loss_gan``.

    Types (chosen once here):

    * ``vanilla``: binary cross-entropy on logits against ``real_label`` /
      ``fake_label``;
    * ``lsgan``: mean squared error against the same labels (pix2pixHD);
    * ``wgan``: ``-mean(pred)`` for a real target, ``+mean(pred)`` for a fake
      one, on both sides;
    * ``hinge``: discriminator ``mean(relu(1 - pred))`` (real) and
      ``mean(relu(1 + pred))`` (fake); generator ``-mean(pred)`` (real target
      only).

    ``real_label`` / ``fake_label`` only matter for ``vanilla`` and ``lsgan``.
    ``loss_weight`` multiplies the result on both the discriminator and the
    generator side; to weight only one side, build two instances.

    ``pred`` may be a tensor, a flat list of prediction maps (one per scale),
    or the nested multi-scale output (per scale a list whose last element is
    the prediction map); the loss is then the **sum** over scales, as in
    pix2pixHD's sum over D_k.
    """

    default_loss_name = 'loss_gan'

    def __init__(self, gan_type: str = 'lsgan', real_label: float = 1.0,
                 fake_label: float = 0.0, loss_weight: float = 1.0,
                 loss_name: Optional[str] = None):
        super().__init__(loss_weight, loss_name)
        self.gan_type = gan_type
        self._objective = _build_objective(gan_type, float(real_label),
                                           float(fake_label))

    def forward(self, pred: DiscriminatorOutput, target_is_real: bool,
                is_disc: bool = False) -> Tensor:
        """Loss of ``pred`` against the real or the fake target.

        ``is_disc`` tells the discriminator step from the generator step; only
        ``hinge`` treats them differently.
        """
        per_scale = [self._objective(p, target_is_real, is_disc)
                     for p in final_predictions(pred)]
        return torch.stack(per_scale).sum() * self.loss_weight

    def extra_repr(self) -> str:
        return f'gan_type={self.gan_type!r}, ' + super().extra_repr()
