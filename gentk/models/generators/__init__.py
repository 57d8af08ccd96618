"""Generators: importing this package registers them in ``MODELS``."""
from .global_generator import GlobalGenerator
from .local_enhancer import EnhancerStage, LocalEnhancer
from .unet_generator import UnetGenerator

__all__ = ['EnhancerStage', 'GlobalGenerator', 'LocalEnhancer', 'UnetGenerator']
