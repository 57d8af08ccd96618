"""Convolutions as matrix products on CPU: the pieces.

pix2pixHD's residual blocks run 1024-channel 3x3 convolutions on maps of a
few hundred pixels (8x16 at 256x128 input). There the work is
``out[Cout, L] = W[Cout, Cin*k*k] @ cols[Cin*k*k, L]`` with a 38 MB weight
and a small ``L``, a shape for which oneDNN's direct convolution kernels
reach about half of their large-map throughput on CPU, while its inner
product (``torch.ops.mkldnn._linear_pointwise``) runs the same
multiply-accumulates close to peak (one Zen 5 core: 8x16 map, 107 GFLOP/s
as a convolution, ~150-190 as an inner product). For the forward product
``torch.mm`` is no alternative (MKL's sgemm ran at ~85 GFLOP/s on the same
core); for the two backward products it is the faster one.

The multiply-accumulates are exactly the convolution's (``im2col`` as one
strided copy; ``col2im`` as strided additions in the layout the product
leaves, see ``conv_grads.col2im_channels_last``), so ``FlopCounterMode``
gets a formula for the oneDNN op below. Outputs and input gradients keep
the input's memory layout (NCHW or channels-last). Backward computes ``dW =
dOut @ cols^T`` and ``dcols = W^T @ dOut`` as two matrix products; a
double backward (``create_graph=True``, e.g. a gradient penalty)
recomputes the convolution with ``F.conv2d`` instead, so higher
derivatives stay exact.

A transposed convolution is the input gradient of a convolution with the
same weight, so ``transposed_conv.py`` builds its forward and backward from
the same three functions (``conv_by_matmul``,
``conv_input_grad_by_matmul``, ``conv_weight_grad_by_matmul``).
``matmul_conv.Conv2d`` decides when these routes run.
"""
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from .conv_grads import col2im_channels_last, native_conv_grads
from .layout import is_channels_last, memory_format_of


def _onednn_linear_op():
    """``Y = X @ W^T`` on oneDNN, or None where this torch has no such op."""
    try:
        return torch.ops.mkldnn._linear_pointwise.default
    except (AttributeError, RuntimeError):
        return None


ONEDNN_LINEAR = _onednn_linear_op()


def _register_flops() -> None:
    """Count the oneDNN product in ``FlopCounterMode``: 2 FLOPs per MAC."""
    if ONEDNN_LINEAR is None:
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


def matmul_nt(x: Tensor, w: Tensor) -> Tensor:
    """``x @ w.T`` for 2-D float32 CPU tensors (views allowed)."""
    return ONEDNN_LINEAR(x, w, None, 'none', [], '')


def conv_output_size(height: int, width: int, kernel: Tuple[int, int],
                     padding: Tuple[int, int], stride: Tuple[int, int]
                     ) -> Tuple[int, int]:
    """Height and width of a convolution's output map."""
    return tuple((size + 2 * pad - k) // step + 1 for size, k, pad, step
                 in zip((height, width), kernel, padding, stride))


def im2col(x: Tensor, kernel: Tuple[int, int], padding: Tuple[int, int],
           stride: Tuple[int, int]) -> Tensor:
    """``[Cin * kh * kw, N * L]``: one column per output pixel (``F.unfold``'s
    rows, with the batch in the columns).

    One strided copy of the zero-padded input (a view with the kernel taps
    as extra dimensions), in whichever layout ``x`` has: 4.5x faster than
    ``F.unfold``'s kernel (1024 channels, 3x3, 8x16 map on two cores: 0.65
    -> 0.14 ms)."""
    (kh, kw), (stride_h, stride_w) = kernel, stride
    if any(padding):
        x = F.pad(x, (padding[1], padding[1], padding[0], padding[0]))
    batch, channels, height, width = x.shape
    out_h, out_w = conv_output_size(height, width, kernel, (0, 0), stride)
    step_n, step_c, step_h, step_w = x.stride()
    taps = x.as_strided(
        (channels, kh, kw, batch, out_h, out_w),
        (step_c, step_h, step_w, step_n, stride_h * step_h, stride_w * step_w))
    return taps.reshape(channels * kh * kw, batch * out_h * out_w)


def pixel_rows(x: Tensor) -> Tensor:
    """``[N * H * W, C]``, one row per pixel: a view for a batch of one in
    either layout (NCHW gives it transposed, which the products take as
    is)."""
    return x.permute(0, 2, 3, 1).reshape(-1, x.size(1))


def conv_by_matmul(x: Tensor, weight: Tensor, bias: Optional[Tensor],
                   stride: Tuple[int, int], padding: Tuple[int, int]
                   ) -> Tuple[Tensor, Tensor]:
    """``F.conv2d`` with zero padding as ``W @ im2col(x)``, in ``x``'s
    layout, and the columns it multiplied (for the weight gradient)."""
    batch, _, height, width = x.shape
    out_channels, _, kh, kw = weight.shape
    out_h, out_w = conv_output_size(height, width, (kh, kw), padding, stride)
    cols = im2col(x, (kh, kw), padding, stride)
    out = matmul_nt(weight.reshape(out_channels, -1), cols.t())  # [Cout, NL]
    if bias is not None:
        out += bias.unsqueeze(1)
    if is_channels_last(x):  # [Cout, NL] -> [N, H, W, Cout]: 0.5 MB at 8x16
        out = out.t().contiguous().view(batch, out_h, out_w, out_channels) \
            .permute(0, 3, 1, 2)
    elif batch > 1:
        out = out.view(out_channels, batch, out_h, out_w).transpose(0, 1) \
            .contiguous()
    else:
        out = out.view(1, out_channels, out_h, out_w)
    return out, cols


# The two backward products go to torch.mm (MKL sgemm): with their shapes
# (a reduction over the NL pixels for dW; a transposed weight for dX) it
# beats the oneDNN inner product, which would reorder the 38 MB weight on
# every call (one Zen 5 core, 1024 -> 1024 3x3 at 8x16: dW 20 -> 18 ms, dX
# 28 -> 22 ms; two threads: 18 -> 11 and 14 -> 9 ms).
def conv_weight_grad_by_matmul(grad_rows: Tensor, cols: Tensor,
                               weight_shape: torch.Size) -> Tensor:
    """The weight gradient ``dOut @ cols^T`` of a convolution, from the
    output gradient's ``pixel_rows`` and the input's ``im2col``."""
    return torch.mm(grad_rows.t(), cols.t()).view(weight_shape)


def conv_input_grad_by_matmul(grad_rows: Tensor, weight: Tensor,
                              x_shape: torch.Size, padding: Tuple[int, int],
                              stride: Tuple[int, int],
                              memory_format: torch.memory_format) -> Tensor:
    """The input gradient of a zero-padded convolution, ``col2im(W^T @
    dOut)``, from the output gradient's ``pixel_rows``; laid out in
    ``memory_format``."""
    out_channels, in_channels = weight.shape[:2]
    # (W^T @ dOut)^T = dOut^T @ W: [NL, Cin*kh*kw], pixel-major
    grad_cols = torch.mm(grad_rows, weight.reshape(out_channels, -1))
    batch, _, height, width = x_shape
    out_h, out_w = conv_output_size(height, width, weight.shape[2:],
                                    padding, stride)
    grad_x = col2im_channels_last(
        grad_cols.view(batch, out_h, out_w, in_channels, *weight.shape[2:]),
        x_shape, padding, stride)
    return grad_x.contiguous(memory_format=memory_format)


class ConvAsMatmul(torch.autograd.Function):
    """Zero-padded convolution of ``x`` whose backward is two matrix
    products; the forward is ``W @ im2col(x)`` too (``forward_matmul``) or
    oneDNN's convolution."""

    @staticmethod
    def forward(ctx, x: Tensor, weight: Tensor, bias: Optional[Tensor],
                stride: Tuple[int, int], padding: Tuple[int, int],
                forward_matmul: bool = True) -> Tensor:
        ctx.stride, ctx.padding = stride, padding
        if not forward_matmul:
            ctx.save_for_backward(x, weight, bias, None)
            return F.conv2d(x, weight, bias, stride=stride, padding=padding)
        out, cols = conv_by_matmul(x, weight, bias, stride, padding)
        ctx.save_for_backward(x, weight, bias, cols)
        # A tensor of its own rather than a view of the product, so that an
        # in-place activation may follow (autograd forbids modifying views
        # made inside a custom Function).
        return out.detach()

    @staticmethod
    def backward(ctx, grad_out: Tensor):
        x, weight, bias, cols = ctx.saved_tensors
        needs_x, needs_w, needs_b = ctx.needs_input_grad[:3]
        if torch.is_grad_enabled():
            # create_graph=True: differentiate the native convolution of the
            # saved inputs, so the gradients stay differentiable (in x and W).
            return (*native_conv_grads(
                grad_out, (x, weight, bias), (needs_x, needs_w, needs_b),
                dict(stride=ctx.stride, padding=ctx.padding)), None, None, None)
        if cols is None:  # oneDNN ran the forward
            cols = im2col(x, weight.shape[2:], ctx.padding, ctx.stride)
        grad_rows = pixel_rows(grad_out)
        grad_x = grad_w = grad_b = None
        # The weight gradient last: an optimiser stepping during the
        # backward (StepInBackwardOptimWrapper) then reads it from cache.
        if needs_x:
            grad_x = conv_input_grad_by_matmul(
                grad_rows, weight, x.shape, ctx.padding, ctx.stride,
                memory_format_of(x))
        if needs_b:
            grad_b = grad_rows.sum(0)
        if needs_w:
            grad_w = conv_weight_grad_by_matmul(grad_rows, cols, weight.shape)
        return grad_x, grad_w, grad_b, None, None, None
