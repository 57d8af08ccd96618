"""Discriminators: importing this package registers them in ``MODELS``."""
from .multiscale_discriminator import MultiScaleDiscriminator
from .nlayer_discriminator import NLayerDiscriminator

__all__ = ['MultiScaleDiscriminator', 'NLayerDiscriminator']
