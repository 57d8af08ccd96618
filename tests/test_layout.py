"""layers.to_channels_last: NCHW <-> NHWC with values and gradients intact."""
import pytest
import torch

from gentk.models.layers import is_channels_last, to_channels_last

NHWC, NCHW = torch.channels_last, torch.contiguous_format


@pytest.mark.parametrize('batch', [1, 2])
@pytest.mark.parametrize('to_nhwc', [True, False])
def test_moves_values_and_gradients_between_layouts(batch, to_nhwc):
    base = torch.randn(batch, 5, 3, 4)
    x = base.contiguous(memory_format=NCHW if to_nhwc else NHWC) \
        .requires_grad_()
    y = to_channels_last(x, to_nhwc)
    assert is_channels_last(y) == to_nhwc
    assert y.is_contiguous(memory_format=NHWC if to_nhwc else NCHW)
    assert torch.equal(y, base)
    weight = torch.randn(batch, 5, 3, 4)
    (grad,) = torch.autograd.grad((y * weight).sum(), x)
    assert torch.equal(grad, weight)
    # the gradient comes back in the input's layout
    assert grad.is_contiguous(memory_format=NCHW if to_nhwc else NHWC)


def test_already_in_layout_is_returned_as_is():
    nchw = torch.randn(1, 3, 4, 5)
    nhwc = nchw.contiguous(memory_format=NHWC)
    assert to_channels_last(nchw, False) is nchw
    assert to_channels_last(nhwc, True) is nhwc
    flat = torch.randn(2, 3)
    assert to_channels_last(flat) is flat
    # a 1x1 map is both layouts: nothing to move, but only NCHW counts as NCHW
    dot = torch.randn(1, 8, 1, 1)
    assert not is_channels_last(dot)
    assert is_channels_last(to_channels_last(torch.randn(1, 3, 2, 2)))
