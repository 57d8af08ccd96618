"""Moving an activation between NCHW and channels-last (NHWC).

For one sample a layout change is a transpose of a ``[C, H*W]`` matrix.
Written as one, torch's 2-D transposed copy runs several times faster on
CPU than the generic 4-D permuted copy behind ``x.contiguous(memory_format)``
(1024 x 34 x 66 map on two cores: 2.6 vs 8.8 ms), and so does the gradient,
which goes back the same way.
"""
import torch
from torch import Tensor


def is_channels_last(x: Tensor) -> bool:
    """Whether ``x`` is laid out NHWC (and not also NCHW, as 1x1 maps are)."""
    return (x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last)
            and not x.is_contiguous())


def memory_format_of(x: Tensor) -> torch.memory_format:
    """The memory format that keeps ``x``'s layout in ``.contiguous()``."""
    return torch.channels_last if is_channels_last(x) else torch.contiguous_format


def _relayout(x: Tensor, channels_last: bool) -> Tensor:
    n, c, h, w = x.shape
    if n != 1:  # no 2-D view of the whole batch: torch's own copy
        return x.contiguous(memory_format=torch.channels_last if channels_last
                            else torch.contiguous_format)
    if channels_last:
        return x.contiguous().view(c, h * w).t().contiguous() \
            .view(1, h, w, c).permute(0, 3, 1, 2)
    return x.contiguous(memory_format=torch.channels_last) \
        .permute(0, 2, 3, 1).reshape(h * w, c).t().contiguous().view(1, c, h, w)


class _ToLayout(torch.autograd.Function):

    @staticmethod
    def forward(ctx, x: Tensor, channels_last: bool) -> Tensor:
        ctx.channels_last = channels_last
        return _relayout(x, channels_last)

    @staticmethod
    def backward(ctx, grad: Tensor):
        return _relayout(grad, not ctx.channels_last), None


def to_channels_last(x: Tensor, channels_last: bool = True) -> Tensor:
    """``x`` laid out NHWC (``channels_last=True``) or NCHW (False); ``x``
    itself when it already is."""
    if x.dim() != 4 or (is_channels_last(x) if channels_last
                        else x.is_contiguous()):
        return x
    return _ToLayout.apply(x, channels_last)
