"""gentk: semantic scene synthesis and GAN-based data augmentation."""
from .version import __version__

__all__ = ['__version__']
