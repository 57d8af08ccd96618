"""Convolution to a few output channels as one product and shifted sums.

oneDNN's CPU kernels vectorise over output channels in blocks of 8 or 16,
so a convolution to 3 channels (pix2pixHD's 7x7 head to RGB) or to 1 (a
PatchGAN's last layer) leaves most of every vector idle: the head at
256x128 ran at ~50 GFLOP/s, a sixth of the machine's conv rate.

Here every kernel tap is a 1x1 convolution: one product ``[Cout * kh * kw,
Cin] @ [Cin, H * W]`` over the padded map gives, for every pixel, its
contribution to each output channel under each tap, and the output is the
sum of the ``kh * kw`` tap planes, each shifted by its offset. The product
runs at GEMM speed; the sums read ``Cout * kh * kw`` planes of the map,
few when ``Cout`` is small. The product covers the padded map, which
costs ``(H + kh - 1)(W + kw - 1) / (H W)`` of the direct MACs (+7% for the
7x7 head at 256x128).

Backward scatters the output gradient into the tap planes and runs the two
transposed products; a double backward differentiates the native
convolution.
"""
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from .conv_grads import native_conv_grads
from .layout import is_channels_last, memory_format_of


def _columns(x: Tensor) -> Tensor:
    """``[Cin, N * H * W]`` view (batch of one) or copy of ``x``."""
    return x.transpose(0, 1).reshape(x.size(1), -1)


class _TapsConv(torch.autograd.Function):
    """Valid (unpadded) stride-1 convolution of ``x``."""

    @staticmethod
    def forward(ctx, x: Tensor, weight: Tensor,
                bias: Optional[Tensor]) -> Tensor:
        batch, _, height, width = x.shape
        out_channels, _, kh, kw = weight.shape
        out_h, out_w = height - kh + 1, width - kw + 1
        taps = torch.mm(weight.permute(0, 2, 3, 1).reshape(-1, x.size(1)),
                        _columns(x)).view(out_channels, kh, kw, batch,
                                          height, width)
        out = taps[:, 0, 0, :, :out_h, :out_w].clone()
        for i in range(kh):
            for j in range(kw):
                if i or j:
                    out += taps[:, i, j, :, i:i + out_h, j:j + out_w]
        if bias is not None:
            out += bias.view(-1, 1, 1, 1)
        ctx.save_for_backward(x, weight, bias)
        # [N, Cout, H, W] in the input's layout, as a tensor of its own (not
        # a view), so that an in-place activation may follow.
        return out.transpose(0, 1).contiguous(
            memory_format=memory_format_of(x)).detach()

    @staticmethod
    def backward(ctx, grad_out: Tensor):
        x, weight, bias = ctx.saved_tensors
        needs_x, needs_w, needs_b = ctx.needs_input_grad[:3]
        if torch.is_grad_enabled():  # create_graph=True
            return native_conv_grads(grad_out, (x, weight, bias),
                                     (needs_x, needs_w, needs_b),
                                     dict(stride=1, padding=0))
        batch, in_channels, height, width = x.shape
        out_channels, _, kh, kw = weight.shape
        out_h, out_w = grad_out.shape[2:]
        grad_planes = grad_out.transpose(0, 1)  # [Cout, N, H, W]
        grad_taps = grad_out.new_zeros(out_channels, kh, kw, batch, height,
                                       width)
        for i in range(kh):
            for j in range(kw):
                grad_taps[:, i, j, :, i:i + out_h, j:j + out_w] = grad_planes
        grad_taps = grad_taps.view(out_channels * kh * kw, -1)
        grad_x = grad_w = grad_b = None
        if needs_w:  # [Cout*kh*kw, NHW] @ [NHW, Cin] -> [Cout, kh, kw, Cin]
            grad_w = torch.mm(grad_taps, _columns(x).t()) \
                .view(out_channels, kh, kw, in_channels).permute(0, 3, 1, 2) \
                .contiguous()
        if needs_x:  # in the input's layout: one row per pixel for NHWC
            flat_w = weight.permute(0, 2, 3, 1).reshape(-1, in_channels)
            if is_channels_last(x):
                grad_x = torch.mm(grad_taps.t(), flat_w).view(
                    batch, height, width, in_channels).permute(0, 3, 1, 2)
            else:
                grad_x = torch.mm(flat_w.t(), grad_taps).view(
                    in_channels, batch, height, width).transpose(0, 1)
                grad_x = grad_x.contiguous()
        if needs_b:
            grad_b = grad_out.sum((0, 2, 3))
        return grad_x, grad_w, grad_b


def taps_conv2d(x: Tensor, weight: Tensor, bias: Optional[Tensor] = None,
                padding: Tuple[int, int] = (0, 0)) -> Tensor:
    """``F.conv2d(x, weight, bias, padding=padding)`` (stride 1, no dilation
    or groups) as a product over kernel taps and shifted sums; output in
    ``x``'s layout."""
    pad_h, pad_w = padding
    if pad_h or pad_w:
        x = F.pad(x, (pad_w, pad_w, pad_h, pad_h))
    return _TapsConv.apply(x, weight, bias)
