"""A convolution over a one-hot label map as a table lookup (CPU).

A conditional generator's first layer convolves the one-hot label map (plus
a few dense channels such as instance edges). Where a pixel's label
channels are one-hot, its contribution under kernel tap ``t`` is the
weight column ``W[:, label, t]``, so the output is a sum of ``kh * kw``
rows of a table per output pixel: ``F.embedding_bag`` over the taps' label
indices, with no multiplications, however many classes there are. The
dense channels after the label channels (edges, instance features) are an
ordinary convolution added to it. pix2pixHD's 7x7 stem, 35 labels + edges
-> 64 channels at 256x128, two Intel threads: 21.5 ms as oneDNN's
convolution, 5.6 ms as lookup + a one-channel convolution, the check below
included.

Exact only for one-hot (or all-zero: ignored pixels) label channels, so
:func:`one_hot_index` checks every call and ``Conv2d`` falls back to its
other routes when the check fails. The backward is the convolution's own
(``aten.convolution_backward`` of the dense input): identical gradients,
at the convolution's cost.
"""
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from .conv_grads import native_conv_grads
from .layout import memory_format_of

# Table-row indices (int32) materialised at a time: 16 MB, the 7x7 stem's
# bags for ~85k output pixels (one block at 256x128; 2048x1024 needs 25).
LOOKUP_BLOCK = 2 ** 22


def one_hot_index(x: Tensor, channels: int) -> Optional[Tensor]:
    """``[N, H, W]``: the hot channel of each pixel among ``x``'s first
    ``channels`` (``channels`` itself where all are zero), or None unless
    every pixel's are one-hot or all zero."""
    labels = x[:, :channels]
    top, index = labels.max(1)
    total = labels.sum(1)
    if not bool(((top == total) & ((total == 0) | (total == 1))).all()):
        return None
    return index.masked_fill_(total == 0, channels)


class _OneHotConv(torch.autograd.Function):
    """``F.conv2d(x, weight, bias, stride)`` (valid, no dilation or groups)
    of an ``x`` whose first ``channels`` channels are the one-hot ``index``
    (``one_hot_index``)."""

    @staticmethod
    def forward(ctx, x: Tensor, weight: Tensor, bias: Optional[Tensor],
                index: Tensor, channels: int,
                stride: Tuple[int, int]) -> Tensor:
        ctx.stride = stride
        ctx.save_for_backward(x, weight, bias)
        batch = x.size(0)
        out_channels, _, kh, kw = weight.shape
        # One table row per (tap, label), and a zero row per tap for the
        # all-zero pixels: [(kh, kw, channels + 1), Cout].
        table = F.pad(weight[:, :channels], (0, 0, 0, 0, 0, 1)) \
            .permute(2, 3, 1, 0).reshape(-1, out_channels)
        # [N, H_out, W_out, kh, kw]: each output pixel's labels under its taps
        taps = index.to(torch.int32).unfold(1, kh, stride[0]) \
            .unfold(2, kw, stride[1])
        out_h, out_w = taps.shape[1:3]
        offsets = torch.arange(0, kh * kw * (channels + 1), channels + 1,
                               dtype=torch.int32, device=index.device)
        out = weight.new_empty(batch, out_h, out_w, out_channels)
        # Output rows in blocks: the bags of table rows are a copy of
        # kh * kw indices per pixel, kept to LOOKUP_BLOCK at a time.
        block = max(1, LOOKUP_BLOCK // (out_w * kh * kw))
        for n in range(batch):
            for top in range(0, out_h, block):
                bags = taps[n, top:top + block].reshape(-1, kh * kw)
                bags += offsets
                out[n, top:top + block] = F.embedding_bag(
                    bags, table, mode='sum').view(-1, out_w, out_channels)
        out = out.permute(0, 3, 1, 2)
        if channels < x.size(1):  # the dense channels after the labels
            out += F.conv2d(x[:, channels:], weight[:, channels:],
                            stride=stride)
        if bias is not None:
            out += bias.view(1, -1, 1, 1)
        # In the input's layout, as a tensor of its own (an in-place
        # activation may follow).
        return out.contiguous(memory_format=memory_format_of(x)).detach()

    @staticmethod
    def backward(ctx, grad_out: Tensor):
        x, weight, bias = ctx.saved_tensors
        needs = ctx.needs_input_grad[:3]
        conv_args = dict(stride=ctx.stride)
        if torch.is_grad_enabled():  # create_graph=True: stay differentiable
            grads = native_conv_grads(grad_out, (x, weight, bias), needs,
                                      conv_args)
        else:
            grads = torch.ops.aten.convolution_backward(
                grad_out, x, weight, None if bias is None else bias.shape,
                list(ctx.stride), [0, 0], [1, 1], False, [0, 0], 1,
                list(needs))
            grads = [g if need else None for g, need in zip(grads, needs)]
        return (*grads, None, None, None)


def one_hot_conv2d(x: Tensor, weight: Tensor, bias: Optional[Tensor],
                   index: Tensor, channels: int,
                   stride: Tuple[int, int] = (1, 1),
                   padding: Tuple[int, int] = (0, 0)) -> Tensor:
    """``F.conv2d(x, weight, bias, stride, padding)`` (zero padding) where
    ``x``'s first ``channels`` channels are one-hot with hot channels
    ``index`` (``one_hot_index(x, channels)``)."""
    pad_h, pad_w = padding
    if pad_h or pad_w:
        x = F.pad(x, (pad_w, pad_w, pad_h, pad_h))
        index = F.pad(index, (pad_w, pad_w, pad_h, pad_h), value=channels)
    return _OneHotConv.apply(x, weight, bias, index, channels, stride)
