"""Convolution to a few channels as a product over kernel taps and shifted
sums, and Conv2d's route to it: values, gradients and layouts against
F.conv2d / nn.Conv2d."""
import pytest
import torch
import torch.nn.functional as F
from conv_twins import (assert_matches_twin, assert_penalty_matches_twin,
                        count_calls, twin)

from gentk.models.layers import Conv2d, matmul_conv, native_convolutions
from gentk.models.layers.taps_conv import taps_conv2d

LAYOUTS = {'nchw': torch.contiguous_format, 'nhwc': torch.channels_last}


@pytest.fixture
def small_maps_too(monkeypatch):
    """Route convolutions too small to pay to the taps too."""
    monkeypatch.setattr(matmul_conv, 'TAPS_MIN_TAP_WORK', 0)


@pytest.fixture
def taps_calls(monkeypatch):
    """Counts Conv2d's calls of taps_conv2d (its 'taps' route)."""
    return count_calls(monkeypatch, taps=(matmul_conv, 'taps_conv2d'))


@pytest.mark.parametrize('layout', LAYOUTS)
@pytest.mark.parametrize('batch, cin, cout, kernel, bias', [
    (1, 6, 3, (7, 7), True),    # an RGB head
    (2, 5, 1, (4, 4), True),    # a PatchGAN's last layer, batch 2
    (1, 4, 2, (3, 5), False),   # non-square kernel
])
def test_matches_conv2d_values_and_gradients(layout, batch, cin, cout, kernel,
                                             bias):
    torch.manual_seed(0)
    x = torch.randn(batch, cin, 11, 13, dtype=torch.float64) \
        .contiguous(memory_format=LAYOUTS[layout]).requires_grad_()
    w = torch.randn(cout, cin, *kernel, dtype=torch.float64, requires_grad=True)
    b = torch.randn(cout, dtype=torch.float64, requires_grad=True) \
        if bias else None
    out, want = taps_conv2d(x, w, b), F.conv2d(x, w, b)
    assert out.shape == want.shape
    assert out.is_contiguous(memory_format=LAYOUTS[layout])
    torch.testing.assert_close(out, want)
    grad = torch.randn_like(want)
    inputs = [x, w] + ([b] if bias else [])
    got = torch.autograd.grad(out, inputs, grad)
    for g, e in zip(got, torch.autograd.grad(want, inputs, grad)):
        torch.testing.assert_close(g, e)
    assert got[0].is_contiguous(memory_format=LAYOUTS[layout])


@pytest.mark.parametrize('mode', ['reflect', 'zeros'])
def test_conv2d_route_matches_nn_conv2d(small_maps_too, taps_calls, mode):
    torch.manual_seed(0)
    conv = Conv2d(8, 3, 7, padding=3, padding_mode=mode)
    x = torch.randn(1, 8, 12, 20).contiguous(
        memory_format=torch.channels_last).requires_grad_()
    assert conv.route(x) == 'taps'
    assert_matches_twin(conv, x)
    assert taps_calls == {'taps': 1}


def test_an_inplace_activation_may_follow(small_maps_too, taps_calls):
    conv = Conv2d(8, 3, 7, padding=3)
    x = torch.randn(1, 8, 10, 12, requires_grad=True)
    assert conv.route(x) == 'taps'
    out = torch.relu_(conv(x))
    want = torch.relu(twin(conv)(x))
    torch.testing.assert_close(out, want, rtol=1e-4, atol=1e-5)
    out.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert taps_calls == {'taps': 1}


def test_route_selection():
    x = torch.empty(1, 64, 64, 64)  # 64 channels x 4096 pixels >= 2 ** 17
    assert Conv2d(16, 3, 7, padding=3).route(x[:, :16]) != 'taps'  # too little
    assert Conv2d(64, 3, 7, padding=3).route(x) == 'taps'
    assert Conv2d(64, 4, 4, padding=1).route(x) == 'taps'
    assert Conv2d(64, 5, 7, padding=3).route(x) != 'taps'  # > 4 channels
    assert Conv2d(64, 3, 7, stride=2, padding=3).route(x) != 'taps'
    assert Conv2d(64, 3, 1).route(x) != 'taps'  # already a product
    assert Conv2d(64, 3, 7, padding=3).route(x.double()) is None
    with native_convolutions():
        assert Conv2d(64, 3, 7, padding=3).route(x) is None


def test_double_backward_is_exact(small_maps_too, taps_calls):
    torch.manual_seed(0)
    conv = Conv2d(4, 1, 4, padding=1)
    x = torch.randn(2, 4, 8, 8, requires_grad=True)
    assert conv.route(x) == 'taps'
    assert_penalty_matches_twin(conv, x, rtol=1e-4, atol=1e-4)
    assert taps_calls == {'taps': 1}
