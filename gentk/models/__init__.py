"""Models: importing this package registers every model component."""
from . import (algorithms, discriminators, encoders, generators, layers,  # noqa: F401
               losses)
from . import backbones, segmentors  # noqa: F401
from .data_preprocessor import GenDataPreprocessor

__all__ = ['GenDataPreprocessor']
