"""Convolutions on small feature maps as matrix products (CPU).

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
that takes this route only where it is faster: CPU, float32, oneDNN
available and enabled, no autocast, no dilation, one group, and a weight
that dwarfs the output map (see the ratios below); everything else, CUDA
included, is ``nn.Conv2d``'s own forward. Where the map is a little larger
(16x32 at 512x256 input) oneDNN's forward is still the faster one but its
backward is not, so only the backward runs as products there. The
multiply-accumulates are exactly the convolution's (``im2col`` as one
strided copy; ``col2im`` as strided additions in the layout the product
leaves, see ``conv_grads.col2im_channels_last``), so ``FlopCounterMode`` gets a
formula for the oneDNN op below. The output and the input gradient keep the
input's memory layout (NCHW or channels-last).

Backward computes ``dW = dOut @ cols^T`` and ``dcols = W^T @ dOut`` as two
matrix products. A double backward (``create_graph=True``, e.g. a gradient
penalty) recomputes the convolution with ``F.conv2d`` instead, so higher
derivatives stay exact.

Wide 3x3 stride-1 convolutions take a third route where it is the fastest:
Winograd's F(2x2, 3x3) (``winograd_conv.py``), 16 batched products with
2.25x fewer multiply-accumulates. Its kernel transform (``[16, Cout,
Cin]``, 16/9 of the weight's size) costs about as much as the products at
8x16, so it is cached where the weight cannot change between calls
(evaluation mode, or a frozen weight) and computed per call otherwise,
where the map is large enough to amortise it (see the constants below).
Stride-1 convolutions to a few channels (RGB heads, a PatchGAN's last
layer) take a fourth: a product over kernel taps and shifted sums
(``taps_conv.py``), where oneDNN leaves most of its vector lanes idle.
"""
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .conv_grads import col2im_channels_last, native_conv_grads
from .layout import is_channels_last, memory_format_of
from .taps_conv import taps_conv2d
from .winograd_conv import transform_weight, winograd_conv2d

# The routes are taken when the weight dwarfs the map, with
# in_channels * kh * kw >= MATMUL_MIN_REDUCTION:
#   out_channels >= MATMUL_PIXEL_RATIO * batch * H_out * W_out: forward and
#     backward as products. Forward + backward on one Zen core, vs oneDNN's
#     convolution: 1024 -> 1024 3x3 at 8x16 (ratio 8) 68 -> 49 ms, 512 ->
#     1024 3x3/2 to 8x16 (ratio 8) 35 -> 24 ms;
#   out_channels >= MATMUL_BACKWARD_PIXEL_RATIO * ...: oneDNN's forward
#     (still the faster one at 16x32: 33 vs 38 ms on two Intel cores), the
#     backward as products: inside a pix2pixHD step at 512x256 oneDNN's
#     backward of a 1024 -> 1024 3x3 at 16x32 (ratio 2) took ~140 ms, the
#     two products ~75 ms (the step: 4.25 -> 3.87 s).
# Below ratio 2 oneDNN wins both ways (256 -> 512 4x4 to 10x18, ratio 2.8:
# 15 -> 17 ms; to 18x34: 40 -> 56 ms).
MATMUL_PIXEL_RATIO = 4.0
MATMUL_BACKWARD_PIXEL_RATIO = 2.0
MATMUL_MIN_REDUCTION = 2048

# Winograd F(2x2, 3x3) for 3x3 stride-1 convolutions with at least
# WINOGRAD_MIN_CHANNELS input and output channels (two Intel threads, NCHW,
# inference / forward + backward in ms, oneDNN vs Winograd: 256 channels at
# 32x64 7.3/6.1 and 26/21; 128 channels 1.9/1.9 and 6.9/6.7; 64 channels
# 0.7/1.2 and 2.2/3.3), over at least
#   WINOGRAD_MIN_TILES 2x2 output tiles with the kernel transform cached
#     (1024 channels at 8x16, 32 tiles: 10.2 -> 6.2 ms);
#   WINOGRAD_MIN_TILES_UNCACHED tiles where it is computed in the call (the
#     transform of a 1024 x 1024 kernel is ~3-5 ms; forward + backward at
#     8x16, 32 tiles: 31-32 ms either way, at 16x32, 128 tiles: 108 -> 76 ms).
# Gathering tiles from a channels-last map is a transposition that costs
# more than it saves beyond WINOGRAD_MAX_CHANNELS_LAST_PIXELS per sample
# (256 channels at 64x128: 29 -> 51 ms; 512 at 32x64: 30 -> 27 ms).
WINOGRAD_MIN_CHANNELS = 256
WINOGRAD_MIN_TILES = 32
WINOGRAD_MIN_TILES_UNCACHED = 128
WINOGRAD_MAX_CHANNELS_LAST_PIXELS = 2048

# Stride-1 convolutions to at most TAPS_MAX_OUT_CHANNELS channels (an RGB
# head, a PatchGAN's last layer) run as a product over kernel taps and
# shifted sums (``taps_conv.py``): pix2pixHD's 7x7 head, 64 -> 3 channels at
# 256x128, one Intel thread: oneDNN 21.8 ms, taps 6.6 ms. The shifted sums
# are kh * kw operations each way, so the route needs at least
# TAPS_MIN_TAP_WORK input channels x output pixels to beat oneDNN (forward
# + backward, two threads, 7x7 to 3 channels at 64x64: 32 channels 2.7 ->
# 2.4 ms, 16 channels 1.4 -> 2.1 ms).
TAPS_MAX_OUT_CHANNELS = 4
TAPS_MIN_TAP_WORK = 2 ** 17

_FAST_ROUTES = [True]


class native_convolutions:
    """Context in which every ``Conv2d`` runs ``nn.Conv2d``'s own forward,
    e.g. to count a network's nominal (direct convolution) FLOPs."""

    def __enter__(self):
        _FAST_ROUTES.append(False)

    def __exit__(self, *exc):
        _FAST_ROUTES.pop()


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


def _output_size(height: int, width: int, kernel: Tuple[int, int],
                 padding: Tuple[int, int], stride: Tuple[int, int]
                 ) -> Tuple[int, int]:
    """Height and width of a convolution's output map."""
    return tuple((size + 2 * pad - k) // step + 1 for size, k, pad, step
                 in zip((height, width), kernel, padding, stride))


def _im2col(x: Tensor, kernel: Tuple[int, int], padding: Tuple[int, int],
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
    out_h, out_w = _output_size(height, width, kernel, (0, 0), stride)
    step_n, step_c, step_h, step_w = x.stride()
    taps = x.as_strided(
        (channels, kh, kw, batch, out_h, out_w),
        (step_c, step_h, step_w, step_n, stride_h * step_h, stride_w * step_w))
    return taps.reshape(channels * kh * kw, batch * out_h * out_w)


class _ConvAsMatmul(torch.autograd.Function):
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
        batch, _, height, width = x.shape
        out_channels, _, kh, kw = weight.shape
        out_h, out_w = _output_size(height, width, (kh, kw), padding, stride)
        cols = _im2col(x, (kh, kw), padding, stride)
        out = _matmul(weight.reshape(out_channels, -1), cols.t())  # [Cout, NL]
        if bias is not None:
            out += bias.unsqueeze(1)
        ctx.save_for_backward(x, weight, bias, cols)
        if is_channels_last(x):  # [Cout, NL] -> [N, H, W, Cout]: 0.5 MB at 8x16
            out = out.t().contiguous().view(batch, out_h, out_w, out_channels) \
                .permute(0, 3, 1, 2)
        elif batch > 1:
            out = out.view(out_channels, batch, out_h, out_w).transpose(0, 1) \
                .contiguous()
        else:
            out = out.view(1, out_channels, out_h, out_w)
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

        out_channels = weight.size(0)
        if cols is None:  # oneDNN ran the forward
            cols = _im2col(x, weight.shape[2:], ctx.padding, ctx.stride)
        # One row per output pixel: a view for a batch of one in either
        # layout (NCHW gives it transposed, which the products take as is).
        grad_rows = grad_out.permute(0, 2, 3, 1).reshape(-1, out_channels)
        grad_x = grad_w = grad_b = None
        # The two backward products go to torch.mm (MKL sgemm): with their
        # shapes (a reduction over the NL pixels for dW; a transposed
        # weight for dX) it beats the oneDNN inner product, which would
        # reorder the 38 MB weight on every call (one Zen 5 core, 1024 ->
        # 1024 3x3 at 8x16: dW 20 -> 18 ms, dX 28 -> 22 ms; two threads:
        # 18 -> 11 and 14 -> 9 ms).
        if needs_w:  # dOut @ cols^T
            grad_w = torch.mm(grad_rows.t(), cols.t()).view_as(weight)
        if needs_b:
            grad_b = grad_rows.sum(0)
        if needs_x:
            # (W^T @ dOut)^T = dOut^T @ W: [NL, Cin*kh*kw], pixel-major
            grad_cols = torch.mm(grad_rows, weight.reshape(out_channels, -1))
            batch, in_channels, height, width = x.shape
            out_h, out_w = _output_size(height, width, weight.shape[2:],
                                        ctx.padding, ctx.stride)
            grad_x = col2im_channels_last(
                grad_cols.view(batch, out_h, out_w, in_channels,
                               *weight.shape[2:]),
                x.shape, ctx.padding, ctx.stride)
            grad_x = grad_x.contiguous(memory_format=memory_format_of(x))
        return grad_x, grad_w, grad_b, None, None, None


class Conv2d(nn.Conv2d):
    """``nn.Conv2d`` that runs small, wide convolutions on CPU as matrix
    products (see the module docstring); identical parameters and results
    up to float rounding."""

    def _caches_kernel_tiles(self) -> bool:
        """Whether the weight stays as it is until the next call: not
        trained in this call, and not a training-mode module's (whose
        optimiser changes it every step: no point in keeping 16/9 of it)."""
        trainable = self.weight.requires_grad
        return (not (trainable and torch.is_grad_enabled())
                and (not trainable or not self.training))

    def _winograd_fits(self, x: Tensor, out_h: int, out_w: int) -> bool:
        if (self.kernel_size != (3, 3) or self.stride != (1, 1)
                or min(self.in_channels, self.out_channels)
                < WINOGRAD_MIN_CHANNELS):
            return False
        if (is_channels_last(x)
                and out_h * out_w > WINOGRAD_MAX_CHANNELS_LAST_PIXELS):
            return False
        tiles = x.size(0) * ((out_h + 1) // 2) * ((out_w + 1) // 2)
        return tiles >= (WINOGRAD_MIN_TILES if self._caches_kernel_tiles()
                         else WINOGRAD_MIN_TILES_UNCACHED)

    def route(self, x: Tensor) -> Optional[str]:
        """How this call runs: ``'winograd'`` (F(2x2, 3x3)), ``'taps'`` (a
        product over kernel taps and shifted sums), ``'matmul'``
        (forward and backward as products), ``'backward'`` (oneDNN's
        forward, backward as products) or None (``nn.Conv2d``'s own forward
        and backward)."""
        if (not _FAST_ROUTES[-1] or x.device.type != 'cpu'
                or x.dtype != torch.float32
                or self.weight.dtype != torch.float32
                or x.dim() != 4 or self.groups != 1
                or self.dilation != (1, 1)
                or isinstance(self.padding, str) or _autocast_on()):
            return None
        out_h, out_w = _output_size(x.size(2), x.size(3), self.kernel_size,
                                    self.padding, self.stride)
        pixels = x.size(0) * out_h * out_w
        if pixels <= 0:
            return None
        if self._winograd_fits(x, out_h, out_w):
            return 'winograd'
        if (self.out_channels <= TAPS_MAX_OUT_CHANNELS
                and self.stride == (1, 1) and self.kernel_size != (1, 1)
                and self.in_channels * pixels >= TAPS_MIN_TAP_WORK):
            return 'taps'
        if (_LINEAR is None or self.weight[0].numel() < MATMUL_MIN_REDUCTION
                or not torch.backends.mkldnn.is_available()
                or not torch.backends.mkldnn.enabled):
            return None
        if MATMUL_PIXEL_RATIO * pixels <= self.out_channels:
            return 'matmul'
        if (MATMUL_BACKWARD_PIXEL_RATIO * pixels <= self.out_channels
                and torch.is_grad_enabled()):
            return 'backward'
        return None

    def _kernel_tiles(self, weight: Tensor) -> Optional[Tensor]:
        """The Winograd transform of ``weight``, kept between calls while
        the weight is unchanged (same storage, same version); None where
        the call computes its own."""
        if not self._caches_kernel_tiles():
            return None
        try:
            version = weight._version
        except RuntimeError:  # a weight made under inference mode has none
            return None
        key = (weight.data_ptr(), version, weight.shape)
        cached = self.__dict__.get('_winograd_cache')
        if cached is None or cached[0] != key:
            with torch.no_grad():
                # The detached weight keeps its storage alive, so no other
                # tensor can take its address while the key is in use.
                cached = (key, weight.detach(), transform_weight(weight))
            self.__dict__['_winograd_cache'] = cached
        return cached[2]

    def _conv_forward(self, x: Tensor, weight: Tensor,
                      bias: Optional[Tensor]) -> Tensor:
        if ('_winograd_cache' in self.__dict__
                and not self._caches_kernel_tiles()):
            # Training again after evaluation: the weight will change, so
            # the transform (16/9 of the weight) goes, whichever route runs.
            del self.__dict__['_winograd_cache']
        route = self.route(x)
        if route is None:
            return super()._conv_forward(x, weight, bias)
        if self.padding_mode != 'zeros':
            x = F.pad(x, self._reversed_padding_repeated_twice,
                      mode=self.padding_mode)
            padding = (0, 0)
        else:
            padding = tuple(self.padding)
        if route == 'winograd':
            return winograd_conv2d(x, weight, bias, padding,
                                   self._kernel_tiles(weight))
        if route == 'taps':
            return taps_conv2d(x, weight, bias, padding)
        return _ConvAsMatmul.apply(x, weight, bias, tuple(self.stride), padding,
                                   route == 'matmul')
