"""WGAN-GP gradient penalty (Gulrajani et al., 2017)."""
from typing import Callable, Optional

import torch
from torch import Tensor

from gentk.registry import MODELS

from .base_loss import BaseLoss
from .discriminator_outputs import DiscriminatorOutput, final_predictions


@MODELS.register_module()
class GradientPenaltyLoss(BaseLoss):
    """``loss_weight * mean_n (||grad_x D(x_n)||_2 - 1)^2`` at random points
    between real and fake samples; ``loss_name`` is ``loss_gp``.

    Each sample n gets its own ``alpha ~ U[0, 1)`` and
    ``x_n = alpha * real_n + (1 - alpha) * fake_n`` (both detached). The graph
    is kept (``create_graph=True``) so the penalty trains the discriminator.
    """

    default_loss_name = 'loss_gp'

    def __init__(self, loss_weight: float = 10.0, loss_name: Optional[str] = None):
        super().__init__(loss_weight, loss_name)

    def forward(self, discriminator: Callable[[Tensor], DiscriminatorOutput],
                real: Tensor, fake: Tensor,
                condition: Optional[Tensor] = None) -> Tensor:
        """
        Args:
            discriminator: any callable from an image batch to a
                discriminator output (tensor, list per scale, or nested
                lists); with several scales their prediction maps are summed.
                A discriminator with extra heads (e.g. an auxiliary
                classifier) should be wrapped so it returns only its
                adversarial output.
            real, fake: image batches of the same shape.
            condition: for a conditional discriminator, concatenated in front
                of the image along channels (``cat([condition, x], 1)``, the
                pix2pixHD input order); the gradient is taken w.r.t. the
                image only.
        """
        if real.shape != fake.shape:
            raise ValueError(
                f'real and fake shapes differ: {tuple(real.shape)} vs '
                f'{tuple(fake.shape)}')
        alpha_shape = (real.size(0),) + (1,) * (real.dim() - 1)
        alpha = torch.rand(alpha_shape, device=real.device, dtype=real.dtype)
        mixed = (alpha * real.detach() + (1 - alpha) * fake.detach())
        mixed.requires_grad_(True)
        d_input = mixed if condition is None else torch.cat([condition, mixed], 1)
        scores = sum(p.sum() for p in final_predictions(discriminator(d_input)))
        (grad,) = torch.autograd.grad(scores, mixed, create_graph=True)
        grad_norm = grad.flatten(1).norm(2, dim=1)
        return ((grad_norm - 1) ** 2).mean() * self.loss_weight
