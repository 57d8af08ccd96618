from .base_gan import BaseGAN, build_module, frozen
from .pix2pixhd import Pix2Pix, Pix2PixHD

__all__ = ['BaseGAN', 'Pix2Pix', 'Pix2PixHD', 'build_module', 'frozen']
