"""Example gentk plugin.

Importing this package registers its components in gentk's registries;
gentk imports it through the ``gentk.plugins`` entry point (see
``pyproject.toml``) or through a config's ``custom_imports``.
"""
from .resize_conv_generator import ResizeConvGenerator, UpsampleConv

__all__ = ['ResizeConvGenerator', 'UpsampleConv']
__version__ = '0.1.0'
