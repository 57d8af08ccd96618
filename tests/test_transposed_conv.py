"""layers.ConvTranspose2d: nn.ConvTranspose2d whose small-map CPU calls run
as matrix products; results must match nn.ConvTranspose2d's."""
import pytest
import torch
import torch.nn.functional as F
from conv_twins import (assert_matches_twin, assert_penalty_matches_twin,
                        count_calls, twin)
from torch.utils.flop_counter import FlopCounterMode

from gentk.models.layers import (ConvNormAct, ConvTranspose2d, is_channels_last,
                                 matmul_conv, native_convolutions,
                                 transposed_conv)


def force_route(monkeypatch, route):
    """Route every transposed convolution, however small, through
    ``route``: 'matmul' (forward too) or 'backward'."""
    forward_ratio = 0.0 if route == 'matmul' else float('inf')
    monkeypatch.setattr(matmul_conv, 'MATMUL_PIXEL_RATIO', forward_ratio)
    monkeypatch.setattr(matmul_conv, 'MATMUL_BACKWARD_PIXEL_RATIO', 0.0)
    monkeypatch.setattr(matmul_conv, 'MATMUL_MIN_REDUCTION', 0)


@pytest.fixture
def products(monkeypatch):
    """Counts _TransposedConvAsMatmul's matrix products: its forward's
    (col2im(x_rows @ W); the 'backward' route runs oneDNN's instead) and
    its backward's."""
    return count_calls(
        monkeypatch,
        forward=(transposed_conv, 'conv_input_grad_by_matmul'),
        dW=(transposed_conv, 'conv_weight_grad_by_matmul'),
        dX=(transposed_conv, 'conv_by_matmul'))


@pytest.mark.parametrize('route', ['matmul', 'backward'])
@pytest.mark.parametrize('batch, cin, cout, k, stride, pad, out_pad, bias', [
    (1, 8, 6, 3, 2, 1, 1, True),     # pix2pixHD's up-sampling
    (2, 8, 6, 3, 2, 1, 1, False),
    (1, 6, 5, 4, 2, 1, 0, True),     # U-Net's
    (2, 5, 7, 3, 1, 1, 0, True),     # stride 1
    (1, 4, 3, 3, 2, 0, 0, True),     # no padding
    (1, 5, 4, 4, 3, 2, 2, False),    # stride 3, output padding 2
])
@pytest.mark.parametrize('channels_last', [False, True])
def test_matches_nn_conv_transpose2d(monkeypatch, products, route, batch, cin,
                                     cout, k, stride, pad, out_pad, bias,
                                     channels_last):
    force_route(monkeypatch, route)
    conv = ConvTranspose2d(cin, cout, k, stride=stride, padding=pad,
                           output_padding=out_pad, bias=bias)
    ref = twin(conv)
    x = torch.randn(batch, cin, 5, 7)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    x.requires_grad_()
    assert conv.route(x) == route
    out, expected = conv(x), ref(x)
    assert out.shape == expected.shape
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5)
    grad = torch.randn_like(out)
    params = [x, conv.weight] + ([conv.bias] if bias else [])
    ref_params = [x, ref.weight] + ([ref.bias] if bias else [])
    got = torch.autograd.grad(out, params, grad)
    for g, e in zip(got, torch.autograd.grad(expected, ref_params, grad)):
        torch.testing.assert_close(g, e, rtol=1e-5, atol=1e-5)
    assert products == {'forward': int(route == 'matmul'), 'dW': 1, 'dX': 1}
    # Output and input gradient keep the input's layout.
    if route == 'matmul':
        assert is_channels_last(out) == channels_last
    assert is_channels_last(got[0]) == channels_last


def test_output_size_argument(monkeypatch, products):
    """``output_size`` picks the output padding, as nn.ConvTranspose2d's."""
    force_route(monkeypatch, 'matmul')
    conv = ConvTranspose2d(4, 3, 3, stride=2, padding=1)
    x = torch.randn(1, 4, 5, 6)
    out = conv(x, output_size=[10, 12])
    assert out.shape == (1, 3, 10, 12)
    torch.testing.assert_close(out, twin(conv)(x, output_size=[10, 12]),
                               rtol=1e-5, atol=1e-5)
    assert products == {'forward': 1, 'dW': 0, 'dX': 0}


def test_frozen_weights_and_input_without_grad(monkeypatch, products):
    force_route(monkeypatch, 'matmul')
    conv = ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1)
    conv.requires_grad_(False)
    x = torch.randn(1, 4, 5, 5, requires_grad=True)
    (gx,) = torch.autograd.grad(conv(x).square().sum(), x)
    want, = torch.autograd.grad(twin(conv)(x).square().sum(), x)
    torch.testing.assert_close(gx, want, rtol=1e-5, atol=1e-5)
    assert products == {'forward': 1, 'dW': 0, 'dX': 1}
    conv.requires_grad_(True)
    conv(x.detach()).square().sum().backward()
    assert products == {'forward': 2, 'dW': 1, 'dX': 1}
    ref = twin(conv)
    ref(x.detach()).square().sum().backward()
    torch.testing.assert_close(conv.weight.grad, ref.weight.grad,
                               rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(conv.bias.grad, ref.bias.grad,
                               rtol=1e-5, atol=1e-5)


def test_in_place_activation_after_it(monkeypatch, products):
    """ConvNormAct's in-place ReLU follows the transposed convolution."""
    force_route(monkeypatch, 'matmul')
    block = ConvNormAct(6, 4, 3, stride=2, padding=1, output_padding=1,
                        transposed=True, norm_cfg=None)
    assert isinstance(block.conv, ConvTranspose2d)
    x = torch.randn(1, 6, 4, 5, requires_grad=True)
    out = block(x)
    assert out.shape == (1, 4, 8, 10) and out.min() >= 0
    out.sum().backward()
    assert x.grad is not None
    assert products == {'forward': 1, 'dW': 1, 'dX': 1}


def test_double_backward_matches(monkeypatch, products):
    """A gradient penalty differentiates the input gradient again."""
    force_route(monkeypatch, 'matmul')
    conv = ConvTranspose2d(3, 5, 3, stride=2, padding=1, output_padding=1)
    x = torch.randn(2, 3, 4, 5, requires_grad=True)
    assert_penalty_matches_twin(conv, x, rtol=1e-4, atol=1e-4)
    # The input gradient (create_graph) is the native convolution's; the
    # penalty's gradient reaches the output too, and its backward products.
    assert products == {'forward': 1, 'dW': 1, 'dX': 1}


def test_flops_are_the_transposed_convolution_flops(monkeypatch, products):
    force_route(monkeypatch, 'matmul')
    conv = ConvTranspose2d(8, 6, 3, stride=2, padding=1, output_padding=1)
    x = torch.randn(1, 8, 4, 5, requires_grad=True)
    counts = []
    for native in (True, False):
        counter = FlopCounterMode(display=False)
        with counter:
            if native:
                with native_convolutions():
                    conv(x).sum().backward()
            else:
                conv(x).sum().backward()
        counts.append(counter.get_total_flops())
    forward = 2 * 8 * 6 * 9 * 4 * 5  # every input pixel meets the kernel
    assert counts == [3 * forward, 3 * forward]  # forward, dW, dX
    assert products == {'forward': 1, 'dW': 1, 'dX': 1}  # the second pass


def test_route_selection():
    # pix2pixHD's first up-sampling at 256x128 input: 1024 >= 4 * 8 * 16
    up = ConvTranspose2d(1024, 512, 3, stride=2, padding=1, output_padding=1)
    assert up.route(torch.empty(1, 1024, 8, 16)) == 'matmul'
    # at 512x256: 2 * 512 <= 1024 < 4 * 512, products for the backward only
    assert up.route(torch.empty(1, 1024, 16, 32)) == 'backward'
    with torch.no_grad():
        assert up.route(torch.empty(1, 1024, 16, 32)) is None
    assert up.route(torch.empty(1, 1024, 32, 64)) is None
    assert up.route(torch.empty(1, 1024, 8, 16, dtype=torch.float64)) is None
    with native_convolutions():
        assert up.route(torch.empty(1, 1024, 8, 16)) is None
    # a reduction of 2 * 9 < MATMUL_MIN_REDUCTION
    assert ConvTranspose2d(1024, 2, 3, stride=2).route(
        torch.empty(1, 1024, 2, 2)) is None
    grouped = ConvTranspose2d(1024, 512, 3, stride=2, groups=2)
    assert grouped.route(torch.empty(1, 1024, 2, 2)) is None
    with torch.device('meta'):
        meta = ConvTranspose2d(1024, 512, 3, stride=2)
        assert meta.route(torch.empty(1, 1024, 2, 2)) is None


def test_large_map_stays_native_and_matches():
    """Off the route the module is nn.ConvTranspose2d itself."""
    conv = ConvTranspose2d(4, 4, 3, stride=2, padding=1, output_padding=1)
    x = torch.randn(1, 4, 6, 6)
    assert conv.route(x) is None
    torch.testing.assert_close(conv(x), F.conv_transpose2d(
        x, conv.weight, conv.bias, 2, 1, 1))


def test_channels_last_bias_added_apart():
    """Off the product route, a channels-last call with a trained bias adds
    the bias apart from oneDNN's convolution: same values, gradients and
    layout; elsewhere it is nn.ConvTranspose2d's own call."""
    conv = ConvTranspose2d(6, 4, 3, stride=2, padding=1, output_padding=1)
    x = torch.randn(2, 6, 9, 11).contiguous(memory_format=torch.channels_last)
    x.requires_grad_()
    assert conv.route(x) == 'separate_bias'
    assert is_channels_last(conv(x))
    assert_matches_twin(conv, x)
    assert conv.route(x.contiguous()) is None  # NCHW
    with torch.no_grad():
        assert conv.route(x) is None
    conv.bias.requires_grad_(False)
    assert conv.route(x) is None
    no_bias = ConvTranspose2d(6, 4, 3, stride=2, padding=1, bias=False)
    assert no_bias.route(x) is None
