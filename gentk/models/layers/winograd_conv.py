"""3x3 stride-1 convolution by Winograd's minimal filtering F(2x2, 3x3).

Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks" (CVPR
2016): a 2x2 output tile from a 4x4 input tile costs 16 multiplications
per (input, output) channel pair instead of 36. With the transforms

    U = G g G^T   (each 3x3 kernel g -> 4x4),
    V = B^T d B   (each 4x4 input tile d, tiles 2 pixels apart),
    Y = A^T M A   with M[xi] = U[xi] @ V[xi] for the 16 positions xi,

the convolution is 16 batched matrix products over the channels
(``[Cout, Cin] @ [Cin, tiles]``), 2.25x fewer multiply-accumulates than
the direct convolution, plus transforms that cost a few element-wise
passes. Each 2-D transform is one small matrix (``kron(B^T, B^T)`` etc.)
applied to the 16 (or 9) entries of every tile at once.

This pays where the channel products dominate: wide layers (pix2pixHD's
1024-channel residual blocks) on small maps, where oneDNN's direct
convolution is also at its least efficient. Two threads of an Intel Xeon
(AVX-512), 1024 -> 1024 channels, inference with the kernel transform
cached: 8x16 map 9.2 -> 5.5 ms, 16x32 33.9 -> 17.3 ms, 32x64 118 -> 67 ms.

The transform matrices have entries 0, +-1/2, +-1 and +-1/4: the results
match ``F.conv2d`` to float32 rounding (relative error ~1e-6).

``Conv2d`` (``matmul_conv.py``) decides when to take this route. A double
backward (``create_graph=True``) differentiates the native convolution
instead, so higher derivatives stay exact.
"""
from typing import Dict, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from .conv_grads import col2im_channels_last, native_conv_grads
from .layout import is_channels_last

# F(2x2, 3x3) with interpolation points 0, 1, -1 (Lavin & Gray, section 4.1).
_B_T = ((1., 0., -1., 0.), (0., 1., 1., 0.), (0., -1., 1., 0.), (0., 1., 0., -1.))
_G = ((1., 0., 0.), (.5, .5, .5), (.5, -.5, .5), (0., 0., 1.))
_A_T = ((1., 1., 1., 0.), (0., 1., -1., -1.))

_MATRICES: Dict[Tuple[torch.dtype, torch.device], Tuple[Tensor, Tensor, Tensor]] = {}


def _matrices(dtype: torch.dtype, device: torch.device
              ) -> Tuple[Tensor, Tensor, Tensor]:
    """The 2-D transforms as matrices on flattened tiles: input ``[16, 16]``
    (``vec(B^T d B) = kron(B^T, B^T) vec(d)``), kernel ``[16, 9]`` and
    output ``[4, 16]``."""
    key = (dtype, device)
    if key not in _MATRICES:
        b_t, g, a_t = (torch.tensor(m, dtype=torch.float64)
                       for m in (_B_T, _G, _A_T))
        _MATRICES[key] = tuple(torch.kron(m, m).to(dtype=dtype, device=device)
                               for m in (b_t, g, a_t))
    return _MATRICES[key]


def transform_weight(weight: Tensor) -> Tensor:
    """``U = G g G^T`` of every kernel: ``[Cout, Cin, 3, 3] -> [16, Cout,
    Cin]``, one matrix per tile position (as the batched product takes
    it)."""
    out_channels, in_channels = weight.shape[:2]
    kernel = _matrices(weight.dtype, weight.device)[1]
    return torch.mm(kernel, weight.reshape(-1, 9).t()) \
        .view(16, out_channels, in_channels)


def _tiles(x: Tensor, tiles_h: int, tiles_w: int) -> Tensor:
    """``V = B^T d B`` of every 4x4 input tile: ``[16, Cin, N * tiles]``."""
    batch, channels = x.shape[:2]
    patches = x.unfold(2, 4, 2).unfold(3, 4, 2)  # [N, C, th, tw, 4, 4]
    patches = patches.permute(4, 5, 1, 0, 2, 3).reshape(16, -1)
    tile_input = _matrices(x.dtype, x.device)[0]
    return torch.mm(tile_input, patches).view(
        16, channels, batch * tiles_h * tiles_w)


def _untile(products: Tensor, batch: int, tiles_h: int, tiles_w: int,
            channels_last: bool) -> Tensor:
    """``Y = A^T M A``: ``[16, Cout, N * tiles] -> [N, Cout, 2 th, 2 tw]`` in
    the requested layout."""
    out_channels = products.size(1)
    tile_output = _matrices(products.dtype, products.device)[2]
    out = torch.mm(tile_output, products.view(16, -1)).view(
        2, 2, out_channels, batch, tiles_h, tiles_w)
    if channels_last:
        return out.permute(3, 4, 0, 5, 1, 2).reshape(
            batch, 2 * tiles_h, 2 * tiles_w, out_channels).permute(0, 3, 1, 2)
    return out.permute(3, 2, 4, 0, 5, 1).reshape(
        batch, out_channels, 2 * tiles_h, 2 * tiles_w)


def _tile_grads(grad_out: Tensor, tiles_h: int, tiles_w: int) -> Tensor:
    """Gradient of ``_untile``'s input: ``A dY A^T`` per output tile."""
    batch, out_channels = grad_out.shape[:2]
    grad = grad_out.reshape(batch, out_channels, tiles_h, 2, tiles_w, 2) \
        .permute(3, 5, 1, 0, 2, 4).reshape(4, -1)
    tile_output = _matrices(grad.dtype, grad.device)[2]
    return torch.mm(tile_output.t(), grad).view(16, out_channels, -1)


def _fold_tiles(grad_tiles: Tensor, x_shape: torch.Size, tiles_h: int,
                tiles_w: int, channels_last: bool) -> Tensor:
    """Gradient of ``_tiles``'s input from ``grad_tiles`` ``[16, N * tiles,
    Cin]``: ``B dV B^T`` per tile, added back where the (overlapping) tiles
    came from."""
    batch, channels = x_shape[:2]
    tile_input = _matrices(grad_tiles.dtype, grad_tiles.device)[0]
    grads = torch.mm(tile_input.t(), grad_tiles.reshape(16, -1)).view(
        4, 4, batch, tiles_h, tiles_w, channels)
    # The tiles are a 4x4 kernel's taps at stride 2.
    grad_x = col2im_channels_last(grads.permute(2, 3, 4, 5, 0, 1), x_shape,
                                  (0, 0), (2, 2))
    return grad_x if channels_last else grad_x.contiguous()


class _WinogradConv(torch.autograd.Function):
    """Valid (unpadded) 3x3 convolution of ``x`` whose input has an even
    output size; ``kernel_tiles`` is ``transform_weight(weight)`` where the
    caller has it already (None: computed here)."""

    @staticmethod
    def forward(ctx, x: Tensor, weight: Tensor, bias: Optional[Tensor],
                kernel_tiles: Optional[Tensor]) -> Tensor:
        batch, _, height, width = x.shape
        tiles_h, tiles_w = (height - 2) // 2, (width - 2) // 2
        if kernel_tiles is None:
            kernel_tiles = transform_weight(weight)
        input_tiles = _tiles(x, tiles_h, tiles_w)
        products = torch.bmm(kernel_tiles, input_tiles)
        out = _untile(products, batch, tiles_h, tiles_w, is_channels_last(x))
        if bias is not None:
            out = out + bias.view(1, -1, 1, 1)
        ctx.save_for_backward(x, weight, bias, kernel_tiles, input_tiles)
        return out

    @staticmethod
    def backward(ctx, grad_out: Tensor):
        x, weight, bias, kernel_tiles, input_tiles = ctx.saved_tensors
        needs_x, needs_w, needs_b = ctx.needs_input_grad[:3]
        if torch.is_grad_enabled():  # create_graph=True
            return (*native_conv_grads(grad_out, (x, weight, bias),
                                       (needs_x, needs_w, needs_b),
                                       dict(stride=1, padding=0)), None)
        tiles_h, tiles_w = (x.size(2) - 2) // 2, (x.size(3) - 2) // 2
        grad_x = grad_w = grad_b = None
        grad_products = _tile_grads(grad_out, tiles_h, tiles_w)
        if needs_x:
            # dV^T = dM^T @ U: [16, tiles, Cin]. MKL runs it as fast as the
            # forward product; U^T @ dM (the transposed kernel as the left
            # operand) took 1.3-1.7x as long (1024 channels, 8x16 map).
            grad_tiles = torch.bmm(grad_products.transpose(1, 2), kernel_tiles)
            grad_x = _fold_tiles(grad_tiles, x.shape, tiles_h, tiles_w,
                                 is_channels_last(x))
        if needs_w:
            grad_kernel_tiles = torch.bmm(grad_products,
                                          input_tiles.transpose(1, 2))
            kernel = _matrices(weight.dtype, weight.device)[1]
            # dg = G^T dU G for every kernel, as one [Cin, 16] @ [16, 9]
            # product per output channel: it writes the gradient in the
            # weight's layout in one pass (1024 channels: 3.8 ms, against
            # 5.8 ms for a single [Cout * Cin, 16] @ [16, 9] product).
            grad_w = torch.bmm(
                grad_kernel_tiles.permute(1, 2, 0),
                kernel.expand(weight.size(0), 16, 9)).view_as(weight)
        if needs_b:
            grad_b = grad_out.sum((0, 2, 3))
        return grad_x, grad_w, grad_b, None


def winograd_conv2d(x: Tensor, weight: Tensor, bias: Optional[Tensor] = None,
                    padding: Tuple[int, int] = (0, 0),
                    kernel_tiles: Optional[Tensor] = None) -> Tensor:
    """``F.conv2d(x, weight, bias, padding=padding)`` for a 3x3 ``weight``
    (stride 1, no dilation, one group) by F(2x2, 3x3); ``kernel_tiles``:
    a cached ``transform_weight(weight)``. Output in ``x``'s layout."""
    if weight.shape[2:] != (3, 3):
        raise ValueError(f'winograd_conv2d takes 3x3 kernels, got '
                         f'{tuple(weight.shape[2:])}')
    pad_h, pad_w = padding
    out_h, out_w = x.size(2) + 2 * pad_h - 2, x.size(3) + 2 * pad_w - 2
    # Zero rows/columns at the bottom/right make the output size even; the
    # extra output row/column is cut off again.
    extra_h, extra_w = out_h % 2, out_w % 2
    if pad_h or pad_w or extra_h or extra_w:
        x = F.pad(x, (pad_w, pad_w + extra_w, pad_h, pad_h + extra_h))
    out = _WinogradConv.apply(x, weight, bias, kernel_tiles)
    if extra_h or extra_w:
        out = out[:, :, :out_h, :out_w]
    return out
