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
other routes when the check fails.

Backward: the input's gradient is the convolution's own. The weight's, for
label ``c`` and tap ``(i, j)``, sums ``dy`` over the output pixels whose
tap reads label ``c``. Label maps are piecewise constant along rows: the
pixels whose tap ``(i, j)`` lands in a run of one label (row ``r``, columns
``a..b``) are output row ``(r - i) / s_h`` (if whole), columns
``ceil((a - j) / s_w) .. floor((b - j) / s_w)``, so each (run, tap) adds a
difference of two prefix sums of ``dy`` along its output row: one
``F.embedding_bag`` over them, weighted +1 and -1. The same terms, summed
in another order: exact up to float32 rounding. The dense channels keep
the convolution's gradient. The stem above (best of 10): 20.9 -> 4.2 ms
(1.2 ms of it the edge channel's); a discriminator's 4x4 stride-2 first
layer, 35 labels + edges + RGB -> 64 channels, 2.7 -> 2.2 ms. Noisy maps
(many runs) or few labels fall back to the convolution's (RUN_TAP_COST).
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
# (run, kernel tap) pairs the weight gradient indexes at a time: 2 ** 20 is
# 24 MB of table indices and signs.
RUN_TAP_BLOCK = 2 ** 20
# The weight gradient from runs costs about RUN_TAP_COST multiply-adds (of
# the convolution, per output channel) per (run, kernel tap) and PIXEL_COST
# per output pixel (prefix sums, the dense channels' own gradient, fixed
# costs), fitted on two threads; the convolution's own spends channels *
# kh * kw per output pixel on the label channels, and runs where cheaper
# (noisy maps, few labels).
RUN_TAP_COST = 72
PIXEL_COST = 200


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


def label_runs(index: Tensor, channels: int,
               max_runs: int) -> Optional[Tuple[Tensor, ...]]:
    """The runs of equal labels along the rows of ``index``, all-zero pixels
    left out, sorted by label: ``(sample, row, first, last, label)``, each
    ``[R]``; None if there are more than ``max_runs``."""
    index = index.contiguous()
    height, width = index.shape[1:]
    starts = torch.ones_like(index, dtype=torch.bool)
    torch.ne(index[..., 1:], index[..., :-1], out=starts[..., 1:])
    first = starts.view(-1).nonzero().squeeze(1)
    if first.numel() > max_runs:
        return None
    # Every row starts a run, so a run ends where the next one starts.
    last = torch.cat([first[1:], first.new_tensor([index.numel()])]) - 1
    label = index.view(-1)[first]
    kept = (label != channels).nonzero().squeeze(1)
    kept = kept[label[kept].argsort()]
    first, last, label = first[kept], last[kept], label[kept]
    sample_row = first // width
    return (sample_row // height, sample_row % height, first % width,
            last % width, label)


def row_prefix_sums(grad_out: Tensor, block: int = 16) -> Tensor:
    """``[N * H_out, W, Cout]``: at ``[r, w]``, the sum of ``grad_out`` over
    pixels ``0..w`` of output row ``r`` (``W >= W_out``, whole blocks)."""
    batch, out_channels, out_h, out_w = grad_out.shape
    rows = grad_out.permute(0, 2, 3, 1).reshape(batch * out_h, out_w,
                                                out_channels)
    if out_w % block:
        rows = F.pad(rows, (0, 0, 0, block - out_w % block))
    # In blocks, as a matmul with a triangle of ones plus the running sum of
    # block totals: 2.5x faster than torch.cumsum along a middle dimension.
    prefix = rows.new_ones(block, block).tril_() \
        @ rows.view(rows.size(0), -1, block, out_channels)
    prefix[:, 1:] += prefix[:, :-1, -1:].cumsum(1)
    return prefix.view(rows.shape)


def one_hot_weight_grad(grad_out: Tensor, x: Tensor, weight: Tensor,
                        index: Tensor, channels: int,
                        stride: Tuple[int, int]) -> Optional[Tensor]:
    """The gradient of ``_OneHotConv``'s weight, from the runs of
    ``index``'s rows; None where they are too many to pay."""
    batch, out_channels, out_h, out_w = grad_out.shape
    kh, kw = weight.shape[2:]
    stride_h, stride_w = stride
    tap_count = kh * kw
    max_runs = grad_out[:, 0].numel() * (channels * tap_count - PIXEL_COST) \
        // (RUN_TAP_COST * tap_count)
    runs = label_runs(index, channels, max_runs) if max_runs > 0 else None
    if runs is None:
        return None
    sample, row, first, last, label = runs
    prefix = row_prefix_sums(grad_out)
    # [kh, R]: under kernel row i, a run's row is output row
    # (row - i) / stride_h, where that is whole and in range; base: the
    # prefix row of that output row.
    shifted = row - torch.arange(kh)[:, None]
    reached = (shifted >= 0) & (shifted < stride_h * out_h) \
        & (shifted % stride_h == 0)
    out_row = shifted.clamp(0, stride_h * out_h - 1) // stride_h
    base = (sample * out_h + out_row) * prefix.size(1)
    # [kw, R]: the output columns [lo, hi) whose tap j falls in the run
    taps_j = torch.arange(kw)[:, None]
    lo = (first - taps_j).add_(stride_w - 1).div_(stride_w, rounding_mode='floor')
    hi = (last - taps_j).div_(stride_w, rounding_mode='floor').add_(1)
    lo, hi = lo.clamp_(0, out_w), hi.clamp_(0, out_w)
    # Each (run, tap) adds prefix[hi - 1] - prefix[lo - 1] (no second term
    # where lo = 0) to the table row of (tap, label): with the runs sorted
    # by label, one embedding bag per table row, weights +1 and -1 (0 where
    # the tap misses the run: exact).
    nonempty = hi > lo
    ends = torch.stack([hi, lo], -1).sub_(1).clamp_(min=0)
    signs = torch.stack([nonempty, nonempty & (lo > 0)], -1) \
        * prefix.new_tensor([1, -1])
    label_starts = F.pad(torch.bincount(label, minlength=channels), (1, 0)) \
        .cumsum(0)[:-1]
    run_count = label.numel()
    table = prefix.new_empty(tap_count, channels, out_channels)
    chunk = max(1, RUN_TAP_BLOCK // max(run_count, 1))  # taps at a time
    for start in range(0, tap_count, chunk):
        tap = torch.arange(start, min(start + chunk, tap_count))
        i, j = tap // kw, tap % kw
        # bag (tap, label): its runs' two ends, in the order of ends[j]
        offsets = torch.arange(len(tap))[:, None] * run_count + label_starts
        table[start:start + len(tap)] = F.embedding_bag(
            (ends[j] + base[i, :, None]).view(-1),
            prefix.view(-1, out_channels),
            F.pad(offsets.view(-1), (0, 1), value=len(tap) * run_count) * 2,
            mode='sum', include_last_offset=True,
            per_sample_weights=(signs[j] * reached[i, :, None]).view(-1),
        ).view(len(tap), channels, out_channels)
    grad = table.view(kh, kw, channels, out_channels).permute(3, 2, 0, 1)
    if channels == x.size(1):
        return grad.contiguous()
    dense = torch.ops.aten.convolution_backward(
        grad_out, x[:, channels:], weight[:, channels:], None, list(stride),
        [0, 0], [1, 1], False, [0, 0], 1, [False, True, False])[1]
    return torch.cat([grad, dense], 1)


class _OneHotConv(torch.autograd.Function):
    """``F.conv2d(x, weight, bias, stride)`` (valid, no dilation or groups)
    of an ``x`` whose first ``channels`` channels are the one-hot ``index``
    (``one_hot_index``)."""

    @staticmethod
    def forward(ctx, x: Tensor, weight: Tensor, bias: Optional[Tensor],
                index: Tensor, channels: int,
                stride: Tuple[int, int]) -> Tensor:
        ctx.stride, ctx.channels = stride, channels
        ctx.save_for_backward(x, weight, bias, index)
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
        x, weight, bias, index = ctx.saved_tensors
        needs = ctx.needs_input_grad[:3]
        if torch.is_grad_enabled():  # create_graph=True: stay differentiable
            grads = native_conv_grads(grad_out, (x, weight, bias), needs,
                                      dict(stride=ctx.stride))
            return (*grads, None, None, None)
        grad_w = one_hot_weight_grad(grad_out, x, weight, index, ctx.channels,
                                     ctx.stride) if needs[1] else None
        # The input's gradient, and the weight's where the runs were too
        # many: the convolution's own.
        native = [needs[0], needs[1] and grad_w is None, False]
        grad_x = None
        if any(native):
            grad_x, native_w, _ = torch.ops.aten.convolution_backward(
                grad_out, x, weight, None, list(ctx.stride), [0, 0], [1, 1],
                False, [0, 0], 1, native)
            grad_w = native_w if native[1] else grad_w
        grad_b = grad_out.sum((0, 2, 3)) if needs[2] else None
        return grad_x, grad_w, grad_b, None, None, None


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
