"""Losses: registered ``nn.Module``s called with explicit tensors, each with a
``loss_weight`` applied inside and a ``loss_name`` (log key, ``loss_*``)."""
from .base_loss import BaseLoss
from .feature_matching_loss import FeatureMatchingLoss
from .gan_loss import GANLoss
from .gradient_penalty_loss import GradientPenaltyLoss
from .l1_loss import L1Loss
from .perceptual_loss import PerceptualLoss
from .vgg19 import VGG19FeatureExtractor

__all__ = ['BaseLoss', 'FeatureMatchingLoss', 'GANLoss', 'GradientPenaltyLoss',
           'L1Loss', 'PerceptualLoss', 'VGG19FeatureExtractor']
