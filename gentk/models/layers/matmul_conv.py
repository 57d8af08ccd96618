"""Convolutions on small feature maps as one oneDNN matrix product (CPU).

pix2pixHD's residual blocks run 1024-channel 3x3 convolutions on maps of a
few hundred pixels (8x16 at 256x128 input). There the work is
``out[Cout, L] = W[Cout, Cin*k*k] @ cols[Cin*k*k, L]`` with a 38 MB weight
and a small ``L``, a shape for which oneDNN's direct convolution kernels
reach about half of their large-map throughput on CPU, while its inner
product (``torch.ops.mkldnn._linear_pointwise``) runs the same
multiply-accumulates close to peak (one Zen 5 core: 8x16 map, 107 GFLOP/s
as a convolution, ~150-190 as an inner product). For the forward product
``torch.mm`` is no alternative (MKL's sgemm ran at ~85 GFLOP/s on the same
core); for the two backward products it is the faster one (see
``_ConvAsMatmul.backward``).

:class:`Conv2d` is ``nn.Conv2d`` (same parameters, names, init, state dict)
whose forward takes that route only where it is faster: CPU, float32,
oneDNN available and enabled, no autocast, no dilation, one group, and a
weight that dwarfs the output map (``out_channels >= MATMUL_PIXEL_RATIO *
batch * H_out * W_out``); everything else, CUDA included, is
``nn.Conv2d``'s own forward. The multiply-accumulates are exactly the
convolution's (``im2col`` by ``F.unfold``; ``col2im`` as strided additions
in the layout the product leaves, see :func:`_col2im_pixel_major`), so
``FlopCounterMode`` gets a formula for the oneDNN op below.

Backward computes ``dW = dOut @ cols^T`` and ``dcols = W^T @ dOut`` as two
matrix products. A double backward (``create_graph=True``, e.g. a gradient
penalty) recomputes the convolution with ``F.conv2d`` instead, so higher
derivatives stay exact.
"""
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

# The route is taken when the weight dwarfs the map:
#   out_channels >= MATMUL_PIXEL_RATIO * batch * H_out * W_out
# and in_channels * kh * kw >= MATMUL_MIN_REDUCTION. Forward + backward on
# one Zen core, vs oneDNN's convolution: 1024 -> 1024 3x3 at 8x16 (ratio 8)
# 68 -> 49 ms, 512 -> 1024 3x3/2 to 8x16 (ratio 8) 35 -> 24 ms; at ratio 2
# it is a tie (1024 -> 1024 at 16x32) and below it a loss (256 -> 512 4x4
# to 10x18, ratio 2.8: 15 -> 17 ms; to 18x34: 40 -> 56 ms).
MATMUL_PIXEL_RATIO = 4.0
MATMUL_MIN_REDUCTION = 2048


def _linear_op():
    """``Y = X @ W^T`` on oneDNN, or None where this torch has no such op."""
    try:
        return torch.ops.mkldnn._linear_pointwise.default
    except (AttributeError, RuntimeError):
        return None


_LINEAR = _linear_op()


def _register_flops() -> None:
    """Count the oneDNN product in ``FlopCounterMode``: 2 FLOPs per MAC."""
    if _LINEAR is None:
        return
    try:
        from torch.utils.flop_counter import register_flop_formula
    except ImportError:  # older torch: the FLOPs would go uncounted
        return

    @register_flop_formula(torch.ops.mkldnn._linear_pointwise)
    def _linear_pointwise_flop(x_shape, w_shape, *args, out_shape=None,
                               **kwargs) -> int:
        rows = 1
        for size in x_shape[:-1]:
            rows *= size
        return 2 * rows * x_shape[-1] * w_shape[0]


_register_flops()


def _matmul(x: Tensor, w: Tensor) -> Tensor:
    """``x @ w.T`` for 2-D float32 CPU tensors (views allowed)."""
    return _LINEAR(x, w, None, 'none', [], '')


def _autocast_on() -> bool:
    try:
        return torch.is_autocast_enabled('cpu')
    except TypeError:  # torch < 2.4
        return torch.is_autocast_cpu_enabled()


def _col2im_pixel_major(cols: Tensor, x_shape: torch.Size,
                        kernel: Tuple[int, int], padding: Tuple[int, int],
                        stride: Tuple[int, int]) -> Tensor:
    """``F.fold`` of ``cols`` given as ``[N * L, C * kh * kw]`` (one row per
    output pixel, as ``dOut^T @ W`` comes out), without transposing it.

    Each kernel tap adds its ``[N, H_out, W_out, C]`` slice into a
    channels-last buffer at its offset: ``kh * kw`` strided additions over
    the map. ``F.fold`` would need the ``[N, C * kh * kw, L]`` layout, a
    transposed copy of ``cols`` (and it is slower itself: 1024 channels,
    3x3, 8x16 map on two cores: 2.8 ms for copy and fold, 0.9 ms here).
    """
    batch, channels, height, width = x_shape
    (kh, kw), (pad_h, pad_w), (stride_h, stride_w) = kernel, padding, stride
    out_h = (height + 2 * pad_h - kh) // stride_h + 1
    out_w = (width + 2 * pad_w - kw) // stride_w + 1
    taps = cols.view(batch, out_h, out_w, channels, kh, kw)
    padded = cols.new_zeros(batch, height + 2 * pad_h, width + 2 * pad_w,
                            channels)
    span_h, span_w = stride_h * (out_h - 1) + 1, stride_w * (out_w - 1) + 1
    for i in range(kh):
        for j in range(kw):
            padded[:, i:i + span_h:stride_h, j:j + span_w:stride_w] += \
                taps[..., i, j]
    return padded[:, pad_h:pad_h + height, pad_w:pad_w + width] \
        .permute(0, 3, 1, 2).contiguous()


class _ConvAsMatmul(torch.autograd.Function):
    """Zero-padded convolution of ``x`` as ``W @ im2col(x)``."""

    @staticmethod
    def forward(ctx, x: Tensor, weight: Tensor, bias: Optional[Tensor],
                stride: Tuple[int, int], padding: Tuple[int, int]) -> Tensor:
        batch, _, height, width = x.shape
        out_channels, _, kh, kw = weight.shape
        out_h = (height + 2 * padding[0] - kh) // stride[0] + 1
        out_w = (width + 2 * padding[1] - kw) // stride[1] + 1
        pixels = out_h * out_w
        cols = F.unfold(x, (kh, kw), padding=padding, stride=stride)
        # cols: [N, Cin*kh*kw, L]
        if batch > 1:  # one product over the whole batch
            cols = cols.transpose(0, 1).reshape(cols.size(1), batch * pixels)
        else:
            cols = cols[0]
        out = _matmul(weight.reshape(out_channels, -1), cols.t())  # [Cout, NL]
        if bias is not None:
            out += bias.unsqueeze(1)
        ctx.save_for_backward(x, weight, bias, cols)
        ctx.stride, ctx.padding = stride, padding
        if batch > 1:
            return out.view(out_channels, batch, pixels).transpose(0, 1) \
                .reshape(batch, out_channels, out_h, out_w)
        return out.view(1, out_channels, out_h, out_w)

    @staticmethod
    def backward(ctx, grad_out: Tensor):
        x, weight, bias, cols = ctx.saved_tensors
        needs_x, needs_w, needs_b = ctx.needs_input_grad[:3]
        if torch.is_grad_enabled():
            # create_graph=True: differentiate the native convolution of the
            # saved inputs, so the gradients stay differentiable (in x and W).
            with torch.enable_grad():
                inputs = (x, weight, bias)
                needs = (needs_x, needs_w, needs_b)
                out = F.conv2d(x, weight, bias, stride=ctx.stride,
                               padding=ctx.padding)
                grads = iter(torch.autograd.grad(
                    out, [t for t, need in zip(inputs, needs) if need],
                    grad_out, create_graph=True))
            return (*(next(grads) if need else None for need in needs),
                    None, None)

        batch, _, height, width = x.shape
        out_channels = weight.size(0)
        grad = grad_out.contiguous()
        if batch > 1:
            grad = grad.view(batch, out_channels, -1).transpose(0, 1) \
                .reshape(out_channels, -1)
        else:
            grad = grad.view(out_channels, -1)  # [Cout, NL]
        grad_x = grad_w = grad_b = None
        # The two backward products go to torch.mm (MKL sgemm): with their
        # shapes (a reduction over the NL pixels for dW; a transposed
        # weight for dX) it beats the oneDNN inner product, which would
        # reorder the 38 MB weight on every call (one Zen 5 core, 1024 ->
        # 1024 3x3 at 8x16: dW 20 -> 18 ms, dX 28 -> 22 ms; two threads:
        # 18 -> 11 and 14 -> 9 ms).
        if needs_w:
            grad_w = torch.mm(grad, cols.t()).view_as(weight)  # dOut @ cols^T
        if needs_b:
            grad_b = grad.sum(1)
        if needs_x:
            # (W^T @ dOut)^T = dOut^T @ W: [NL, Cin*kh*kw], pixel-major
            grad_cols = torch.mm(grad.t(), weight.reshape(out_channels, -1))
            grad_x = _col2im_pixel_major(grad_cols, x.shape, weight.shape[2:],
                                         ctx.padding, ctx.stride)
        return grad_x, grad_w, grad_b, None, None


class Conv2d(nn.Conv2d):
    """``nn.Conv2d`` that runs small, wide stride-1 convolutions on CPU as
    one oneDNN matrix product (see the module docstring); identical
    parameters and results up to float rounding."""

    def use_matmul(self, x: Tensor) -> bool:
        """Whether this call takes the matrix-product route."""
        if (_LINEAR is None or x.device.type != 'cpu'
                or x.dtype != torch.float32
                or self.weight.dtype != torch.float32
                or x.dim() != 4 or self.groups != 1
                or self.dilation != (1, 1)
                or isinstance(self.padding, str)
                or self.weight[0].numel() < MATMUL_MIN_REDUCTION
                or not torch.backends.mkldnn.is_available()
                or not torch.backends.mkldnn.enabled or _autocast_on()):
            return False
        (kh, kw), (pad_h, pad_w) = self.kernel_size, self.padding
        out_h = (x.size(2) + 2 * pad_h - kh) // self.stride[0] + 1
        out_w = (x.size(3) + 2 * pad_w - kw) // self.stride[1] + 1
        pixels = x.size(0) * out_h * out_w
        return 0 < pixels and MATMUL_PIXEL_RATIO * pixels <= self.out_channels

    def _conv_forward(self, x: Tensor, weight: Tensor,
                      bias: Optional[Tensor]) -> Tensor:
        if not self.use_matmul(x):
            return super()._conv_forward(x, weight, bias)
        if self.padding_mode != 'zeros':
            x = F.pad(x, self._reversed_padding_repeated_twice,
                      mode=self.padding_mode)
            padding = (0, 0)
        else:
            padding = tuple(self.padding)
        return _ConvAsMatmul.apply(x, weight, bias, tuple(self.stride), padding)
