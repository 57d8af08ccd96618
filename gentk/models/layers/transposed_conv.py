"""Transposed convolutions on small maps as matrix products (CPU).

A transposed convolution of ``x`` with weight ``W`` (``[Cin, Cout, kh,
kw]``) is the input gradient of the convolution of its output with the same
``W`` read as a ``Cout -> Cin`` kernel. So each of its three passes is one
of that convolution's, built from ``conv_products``:

* forward: ``col2im(x_rows @ W)``, the convolution's input gradient with
  ``x`` as the output gradient;
* input gradient: ``W @ im2col(dy)``, the convolution's forward of ``dy``;
* weight gradient: ``x_rows^T @ im2col(dy)^T``, the convolution's weight
  gradient.

pix2pixHD's first up-sampling (1024 -> 512 channels, 8x16 -> 16x32 at
256x128 input) is where this pays: oneDNN's transposed kernels run there
at ~130 GFLOP/s. Two Intel threads, forward + backward, channels-last,
oneDNN vs products: 1024 -> 512 3x3/2 from 8x16 30.8 -> 15.9 ms (forward
6.7 -> 4.7 ms), from 16x32 72.8 -> 62.2 ms; U-Net's 512 -> 512 4x4/2 from
4x4 15.3 -> 4.1 ms. :class:`ConvTranspose2d` takes the route by the same
ratios as ``Conv2d`` (``matmul_conv.product_route``), with the convolution
it transposes: ``Cin`` outputs per ``Cout * kh * kw`` inputs over the
input's pixels.
"""
from typing import List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .conv_grads import native_conv_grads
from .conv_products import (conv_by_matmul, conv_input_grad_by_matmul,
                            conv_weight_grad_by_matmul, im2col, pixel_rows)
from .layout import is_channels_last, memory_format_of
from .matmul_conv import custom_routes_allowed, product_route


class _TransposedConvAsMatmul(torch.autograd.Function):
    """``F.conv_transpose2d`` (one group, no dilation) whose backward is
    matrix products; its forward too with ``forward_matmul``, else
    oneDNN's."""

    @staticmethod
    def forward(ctx, x: Tensor, weight: Tensor, bias: Optional[Tensor],
                stride: Tuple[int, int], padding: Tuple[int, int],
                output_padding: Tuple[int, int],
                forward_matmul: bool) -> Tensor:
        ctx.stride, ctx.padding = stride, padding
        ctx.output_padding = output_padding
        ctx.save_for_backward(x, weight, bias)
        if not forward_matmul:
            return F.conv_transpose2d(x, weight, bias, stride, padding,
                                      output_padding)
        batch, _, height, width = x.shape
        out_shape = (batch, weight.size(1)) + tuple(
            (size - 1) * step - 2 * pad + k + extra for size, step, pad, k,
            extra in zip((height, width), stride, padding, weight.shape[2:],
                         output_padding))
        out = conv_input_grad_by_matmul(pixel_rows(x), weight, out_shape,
                                        padding, stride, memory_format_of(x))
        if bias is not None:
            out += bias.view(1, -1, 1, 1)
        # Its own tensor, not a view made here: an in-place activation may
        # follow.
        return out.detach()

    @staticmethod
    def backward(ctx, grad_out: Tensor):
        x, weight, bias = ctx.saved_tensors
        needs_x, needs_w, needs_b = ctx.needs_input_grad[:3]
        if torch.is_grad_enabled():  # create_graph=True: stay exact
            return (*native_conv_grads(
                grad_out, (x, weight, bias), (needs_x, needs_w, needs_b),
                dict(stride=ctx.stride, padding=ctx.padding,
                     output_padding=ctx.output_padding),
                conv=F.conv_transpose2d), None, None, None, None)
        grad_x = grad_w = grad_b = None
        if needs_x:
            grad_x, cols = conv_by_matmul(grad_out, weight, None, ctx.stride,
                                          ctx.padding)
            grad_x = grad_x.contiguous(memory_format=memory_format_of(x))
        elif needs_w:
            cols = im2col(grad_out, weight.shape[2:], ctx.padding, ctx.stride)
        if needs_w:
            grad_w = conv_weight_grad_by_matmul(pixel_rows(x), cols,
                                                weight.shape)
        if needs_b:
            grad_b = grad_out.sum((0, 2, 3))
        return grad_x, grad_w, grad_b, None, None, None, None


class ConvTranspose2d(nn.ConvTranspose2d):
    """``nn.ConvTranspose2d`` that runs small-map, wide transposed
    convolutions on CPU as matrix products (see the module docstring);
    identical parameters and results up to float rounding."""

    def route(self, x: Tensor) -> Optional[str]:
        """``'matmul'`` (forward and backward as products), ``'backward'``
        (oneDNN's forward, backward as products), ``'separate_bias'``
        (oneDNN's, the bias added apart) or None
        (``nn.ConvTranspose2d``'s own)."""
        if (self.padding_mode != 'zeros' or not custom_routes_allowed(
                x, self.weight, self.groups, self.dilation)):
            return None  # (the parent raises for other padding modes)
        pixels = x.size(0) * x.size(2) * x.size(3)
        if pixels <= 0:
            return None
        route = product_route(self.in_channels, self.weight[0].numel(),
                              pixels)
        if (route is None and self.bias is not None and is_channels_last(x)
                and self.bias.requires_grad and torch.is_grad_enabled()):
            return 'separate_bias'
        return route

    def forward(self, x: Tensor,
                output_size: Optional[List[int]] = None) -> Tensor:
        route = self.route(x)
        if route is None:
            return super().forward(x, output_size)
        output_padding = tuple(self._output_padding(
            x, output_size, self.stride, self.padding, self.kernel_size,
            2, self.dilation))
        if route == 'separate_bias':
            # oneDNN's backward of a channels-last transposed convolution
            # spends ~5 ms on a bias gradient that is a 0.2 ms sum
            # (128 -> 64 channels to 128x256, two Intel threads: forward +
            # backward 19.1 -> 14.2 ms). The output is not saved for the
            # backward, so the bias may go on in place.
            out = F.conv_transpose2d(x, self.weight, None, self.stride,
                                     self.padding, output_padding)
            return out.add_(self.bias.view(1, -1, 1, 1))
        return _TransposedConvAsMatmul.apply(
            x, self.weight, self.bias, tuple(self.stride), tuple(self.padding),
            output_padding, route == 'matmul')
