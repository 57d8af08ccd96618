"""Which algorithm runs a convolution on CPU, and ``Conv2d``, which asks.

:class:`Conv2d` is ``nn.Conv2d`` (same parameters, names, init, state dict)
that leaves torch's own convolution only where another route is faster:
CPU, float32, no autocast, no dilation, one group; everything else, CUDA
included, is ``nn.Conv2d``'s own forward. The routes:

* **products** (``conv_products.py``): where the weight dwarfs the output
  map (pix2pixHD's 1024-channel residual blocks at 8x16), forward and
  backward as matrix products on oneDNN's inner product and MKL. Where the
  map is a little larger (16x32 at 512x256 input) oneDNN's forward is still
  the faster one but its backward is not, so only the backward runs as
  products there (see the ratios below; oneDNN must be available and
  enabled).
* **Winograd** F(2x2, 3x3) (``winograd_conv.py``) for wide 3x3 stride-1
  convolutions: 16 batched products with 2.25x fewer multiply-accumulates.
  Its kernel transform (``[16, Cout, Cin]``, 16/9 of the weight's size)
  costs about as much as the products at 8x16, so it is cached where the
  weight cannot change between calls (evaluation mode, or a frozen weight)
  and computed per call otherwise, where the map is large enough to
  amortise it (see the constants below).
* **taps** (``taps_conv.py``) for stride-1 convolutions to a few channels
  (RGB heads, a PatchGAN's last layer): a product over kernel taps and
  shifted sums, where oneDNN leaves most of its vector lanes idle.
* **one-hot** (``one_hot_conv.py``) for a convolution declared to start
  with a one-hot label map (``one_hot_channels``): a table lookup over the
  labels under each tap, taken only after checking that the channels are
  one-hot.

``transposed_conv.ConvTranspose2d`` applies the same product ratios to
transposed convolutions.
"""
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .conv_products import ONEDNN_LINEAR, ConvAsMatmul, conv_output_size
from .layout import is_channels_last
from .one_hot_conv import one_hot_conv2d, one_hot_index
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


def forget_cached_kernels(module: nn.Module) -> None:
    """Drop the Winograd kernel transforms that ``module``'s ``Conv2d``
    layers keep between calls. Call it after changing their weights in
    place through ``.data`` (as mmengine's ``ExponentialMovingAverage`` and
    ``EMAHook`` do): such changes leave the weight's version as it was,
    and the version is how a cached transform knows it is still valid."""
    for layer in module.modules():
        layer.__dict__.pop('_winograd_cache', None)


def _autocast_on() -> bool:
    try:
        return torch.is_autocast_enabled('cpu')
    except TypeError:  # torch < 2.4
        return torch.is_autocast_cpu_enabled()


def custom_routes_allowed(x: Tensor, weight: Tensor, groups: int,
                          dilation: Tuple[int, ...]) -> bool:
    """Whether a call may leave torch's own convolution at all: float32
    on CPU, one group, no dilation, no autocast, not under
    ``native_convolutions``."""
    return (_FAST_ROUTES[-1] and x.device.type == 'cpu'
            and x.dtype == torch.float32 and weight.dtype == torch.float32
            and x.dim() == 4 and groups == 1
            and all(d == 1 for d in dilation) and not _autocast_on())


def product_route(out_channels: int, reduction: int,
                  pixels: int) -> Optional[str]:
    """``'matmul'``, ``'backward'`` or None for a convolution to
    ``out_channels`` over ``reduction`` inputs per output (``Cin * kh *
    kw``) and ``pixels`` output pixels in the batch (the ratios above)."""
    if (ONEDNN_LINEAR is None or reduction < MATMUL_MIN_REDUCTION
            or not torch.backends.mkldnn.is_available()
            or not torch.backends.mkldnn.enabled):
        return None
    if MATMUL_PIXEL_RATIO * pixels <= out_channels:
        return 'matmul'
    if (MATMUL_BACKWARD_PIXEL_RATIO * pixels <= out_channels
            and torch.is_grad_enabled()):
        return 'backward'
    return None


class Conv2d(nn.Conv2d):
    """``nn.Conv2d`` that runs small, wide convolutions on CPU as matrix
    products (see the module docstring); identical parameters and results
    up to float rounding.

    ``one_hot_channels=k`` declares that the first ``k`` input channels
    hold a one-hot label map (all zero for ignored pixels): on CPU the
    convolution over them is then a table lookup (``one_hot_conv.py``),
    checked on every call, with the other routes as the fallback.
    """

    def __init__(self, *args, one_hot_channels: int = 0, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if not 0 <= one_hot_channels <= self.in_channels:
            raise ValueError(
                f'one_hot_channels must be in [0, in_channels='
                f'{self.in_channels}], got {one_hot_channels}')
        self.one_hot_channels = one_hot_channels

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

    def route(self, x: Tensor, one_hot: bool = True) -> Optional[str]:
        """How this call runs: ``'one_hot'`` (a table lookup, if the label
        channels turn out one-hot; ``one_hot=False``: the route otherwise),
        ``'winograd'`` (F(2x2, 3x3)), ``'taps'`` (a product over kernel taps
        and shifted sums), ``'matmul'`` (forward and backward as products),
        ``'backward'`` (oneDNN's forward, backward as products) or None
        (``nn.Conv2d``'s own forward and backward)."""
        if (isinstance(self.padding, str) or not custom_routes_allowed(
                x, self.weight, self.groups, self.dilation)):
            return None
        if one_hot and self.one_hot_channels:
            return 'one_hot'
        out_h, out_w = conv_output_size(x.size(2), x.size(3),
                                        self.kernel_size, self.padding,
                                        self.stride)
        pixels = x.size(0) * out_h * out_w
        if pixels <= 0:
            return None
        if self._winograd_fits(x, out_h, out_w):
            return 'winograd'
        if (self.out_channels <= TAPS_MAX_OUT_CHANNELS
                and self.stride == (1, 1) and self.kernel_size != (1, 1)
                and self.in_channels * pixels >= TAPS_MIN_TAP_WORK):
            return 'taps'
        return product_route(self.out_channels, self.weight[0].numel(), pixels)

    def _kernel_tiles(self, weight: Tensor) -> Optional[Tensor]:
        """The Winograd transform of ``weight``, kept between calls while
        the weight is unchanged (same storage, same version: in-place
        changes through ``.data`` need ``forget_cached_kernels``); None
        where the call computes its own."""
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
        if route == 'one_hot':
            out = self._one_hot_forward(x, weight, bias)
            if out is not None:
                return out
            route = self.route(x, one_hot=False)
        if route is None:
            return super()._conv_forward(x, weight, bias)
        x, padding = self._padded(x)
        if route == 'winograd':
            return winograd_conv2d(x, weight, bias, padding,
                                   self._kernel_tiles(weight))
        if route == 'taps':
            return taps_conv2d(x, weight, bias, padding)
        return ConvAsMatmul.apply(x, weight, bias, tuple(self.stride), padding,
                                  route == 'matmul')

    def _padded(self, x: Tensor) -> Tuple[Tensor, Tuple[int, int]]:
        """``x`` padded here for a non-zero padding mode, and the zero
        padding left to the route."""
        if self.padding_mode != 'zeros':
            return F.pad(x, self._reversed_padding_repeated_twice,
                         mode=self.padding_mode), (0, 0)
        return x, tuple(self.padding)

    def _one_hot_forward(self, x: Tensor, weight: Tensor,
                         bias: Optional[Tensor]) -> Optional[Tensor]:
        """The table-lookup route; None where the label channels of ``x``
        are not one-hot."""
        x, padding = self._padded(x)
        index = one_hot_index(x, self.one_hot_channels)
        if index is None:
            return None
        return one_hot_conv2d(x, weight, bias, index, self.one_hot_channels,
                              tuple(self.stride), padding)
