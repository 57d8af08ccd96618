"""Shared blocks and tensor ops used across networks."""
from .conv_norm_act import ConvNormAct, build_act, build_norm, norm_has_shift
from .matmul_conv import Conv2d, forget_cached_kernels, native_convolutions
from .instance_average_pool import (instance_average_pool, instance_groups,
                                    instance_means)
from .instance_edges import instance_edges
from .layout import is_channels_last, to_channels_last
from .one_hot import one_hot
from .padding import pad_to_multiple
from .residual_block import ResidualBlock
from .transposed_conv import ConvTranspose2d
from .weight_init import init_normal_

__all__ = ['Conv2d', 'ConvNormAct', 'ConvTranspose2d', 'ResidualBlock',
           'build_act', 'build_norm', 'forget_cached_kernels', 'init_normal_',
           'instance_average_pool', 'instance_edges', 'instance_groups',
           'instance_means', 'is_channels_last', 'native_convolutions',
           'norm_has_shift', 'one_hot', 'pad_to_multiple', 'to_channels_last']
