"""layers.Conv2d: nn.Conv2d whose small-map CPU convolutions run as one
oneDNN matrix product; results must match nn.Conv2d's."""
import warnings

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from conv_twins import assert_penalty_matches_twin, count_calls, twin
from torch.utils.flop_counter import FlopCounterMode

from gentk.models.layers import ConvNormAct, ResidualBlock
from gentk.models.layers import conv_products, matmul_conv
from gentk.models.layers.matmul_conv import Conv2d


def test_the_pinned_torch_has_the_onednn_product():
    """The CPU wheel gentk installs (torch 2.13.0) ships oneDNN and its
    inner-product op; without them every test below would only exercise
    nn.Conv2d's fallback, so their absence is a failure, not a skip."""
    assert torch.backends.mkldnn.is_available()
    assert conv_products.ONEDNN_LINEAR is not None


@pytest.fixture
def always_matmul(monkeypatch):
    """Route every eligible convolution, however small, through the product."""
    monkeypatch.setattr(matmul_conv, 'MATMUL_PIXEL_RATIO', 0.0)
    monkeypatch.setattr(matmul_conv, 'MATMUL_BACKWARD_PIXEL_RATIO', 0.0)
    monkeypatch.setattr(matmul_conv, 'MATMUL_MIN_REDUCTION', 0)


@pytest.fixture
def products(monkeypatch):
    """Counts ConvAsMatmul's matrix products: its forward's (W @ im2col(x);
    the 'backward' route runs oneDNN's instead) and its backward's."""
    return count_calls(
        monkeypatch,
        forward=(conv_products, 'conv_by_matmul'),
        dW=(conv_products, 'conv_weight_grad_by_matmul'),
        dX=(conv_products, 'conv_input_grad_by_matmul'))


@pytest.mark.parametrize('batch, cin, cout, k, stride, pad, mode, bias', [
    (1, 8, 16, 3, 1, 1, 'reflect', True),
    (2, 8, 16, 3, 1, 1, 'reflect', True),
    (1, 5, 7, 4, 2, 2, 'zeros', True),
    (3, 6, 4, 1, 1, 0, 'zeros', False),
    (2, 6, 5, 3, 2, 1, 'zeros', True),
    (1, 16, 8, 7, 1, 3, 'reflect', True),
])
def test_matches_nn_conv2d(always_matmul, products, batch, cin, cout, k,
                           stride, pad, mode, bias):
    conv = Conv2d(cin, cout, k, stride=stride, padding=pad, padding_mode=mode,
                  bias=bias)
    ref = twin(conv)
    x = torch.randn(batch, cin, 9, 11, requires_grad=True)
    assert conv.route(x) == 'matmul'
    out, expected = conv(x), ref(x)
    torch.testing.assert_close(out, expected)
    grad = torch.randn_like(out)
    params = [x, conv.weight] + ([conv.bias] if bias else [])
    ref_params = [x, ref.weight] + ([ref.bias] if bias else [])
    for got, want in zip(torch.autograd.grad(out, params, grad),
                         torch.autograd.grad(expected, ref_params, grad)):
        torch.testing.assert_close(got, want)
    assert products == {'forward': 1, 'dW': 1, 'dX': 1}


def test_frozen_weights_and_input_without_grad(always_matmul, products):
    conv = Conv2d(4, 6, 3, padding=1).requires_grad_(False)
    x = torch.randn(1, 4, 5, 5, requires_grad=True)
    (gx,) = torch.autograd.grad(conv(x).sum(), x)
    torch.testing.assert_close(gx, torch.autograd.grad(twin(conv)(x).sum(), x)[0])
    assert products == {'forward': 1, 'dW': 0, 'dX': 1}
    conv.requires_grad_(True)
    conv(x.detach()).square().sum().backward()
    assert products == {'forward': 2, 'dW': 1, 'dX': 1}
    ref = twin(conv)
    ref(x.detach()).square().sum().backward()
    torch.testing.assert_close(conv.weight.grad, ref.weight.grad)
    torch.testing.assert_close(conv.bias.grad, ref.bias.grad)


def test_double_backward_matches(always_matmul, products):
    """A gradient penalty differentiates the input gradient again."""
    conv = Conv2d(3, 5, 3, padding=1, padding_mode='reflect')
    x = torch.randn(2, 3, 6, 7, requires_grad=True)
    assert_penalty_matches_twin(conv, x, rtol=1e-4, atol=1e-4)
    # The input gradient (create_graph) is the native convolution's; the
    # penalty's gradient reaches the output too, and its backward products.
    assert products == {'forward': 1, 'dW': 1, 'dX': 1}


def test_flops_are_the_convolution_flops(always_matmul, products):
    conv = Conv2d(8, 16, 3, padding=1, padding_mode='reflect')
    x = torch.randn(1, 8, 4, 6, requires_grad=True)
    counter = FlopCounterMode(display=False)
    with counter:
        conv(x).sum().backward()
    forward = 2 * 16 * 8 * 9 * 4 * 6
    assert counter.get_total_flops() == 3 * forward  # forward, dW, dX
    assert products == {'forward': 1, 'dW': 1, 'dX': 1}


def test_route_selection(monkeypatch):
    # the matmul routes alone (Winograd's: tests/test_winograd_conv.py)
    monkeypatch.setattr(matmul_conv, 'WINOGRAD_MIN_CHANNELS', float('inf'))
    with torch.device('meta'):  # any device but the CPU: nn.Conv2d's forward
        assert Conv2d(1024, 1024, 3, padding=1).route(
            torch.empty(1, 1024, 8, 16)) is None
    wide = Conv2d(256, 1024, 3, padding=1)
    assert wide.route(torch.empty(1, 256, 8, 16)) == 'matmul'  # 1024 >= 4 * 128
    # 2 * 512 <= 1024 < 4 * 512: oneDNN forward, products backward
    assert wide.route(torch.empty(1, 256, 16, 32)) == 'backward'
    with torch.no_grad():  # no backward to run: oneDNN's convolution
        assert wide.route(torch.empty(1, 256, 16, 32)) is None
    assert wide.route(torch.empty(1, 256, 16, 64)) is None  # 1024 < 2 * 1024
    assert wide.route(torch.empty(4, 256, 8, 16)) == 'backward'  # batch counts
    assert wide.route(torch.empty(1, 256, 8, 16, dtype=torch.float64)) is None
    # a reduction of 8 * 9 < MATMUL_MIN_REDUCTION
    assert Conv2d(8, 1024, 3, padding=1).route(torch.empty(1, 8, 4, 4)) is None
    grouped = Conv2d(256, 1024, 3, padding=1, groups=2)
    assert grouped.route(torch.empty(1, 256, 4, 4)) is None
    with warnings.catch_warnings():  # flags() warns about Intel GPU TF32
        warnings.simplefilter('ignore')
        with torch.backends.mkldnn.flags(enabled=False):
            assert wide.route(torch.empty(1, 256, 8, 16)) is None


@pytest.mark.parametrize('route_ratios', [(0.0, 0.0), (float('inf'), 0.0)],
                         ids=['matmul', 'backward'])
@pytest.mark.parametrize('batch', [1, 2])
def test_channels_last_in_channels_last_out(monkeypatch, products,
                                            route_ratios, batch):
    """Both routes keep an NHWC input NHWC (output and input gradient) and
    an NCHW one NCHW, with the native convolution's values."""
    forward_ratio, backward_ratio = route_ratios
    monkeypatch.setattr(matmul_conv, 'MATMUL_PIXEL_RATIO', forward_ratio)
    monkeypatch.setattr(matmul_conv, 'MATMUL_BACKWARD_PIXEL_RATIO',
                        backward_ratio)
    monkeypatch.setattr(matmul_conv, 'MATMUL_MIN_REDUCTION', 0)
    conv = Conv2d(6, 8, 3, stride=2, padding=1, bias=True)
    ref = twin(conv)
    base = torch.randn(batch, 6, 9, 11)
    for layout in (torch.channels_last, torch.contiguous_format):
        x = base.contiguous(memory_format=layout).requires_grad_()
        assert conv.route(x) == ('matmul' if forward_ratio == 0 else 'backward')
        out = conv(x)
        assert out.is_contiguous(memory_format=layout)
        grad = torch.randn_like(out)
        got = torch.autograd.grad(out, [x, conv.weight, conv.bias], grad)
        assert got[0].is_contiguous(memory_format=layout)
        expected = ref(base.requires_grad_())
        torch.testing.assert_close(out, expected)
        want = torch.autograd.grad(expected, [base, ref.weight, ref.bias], grad)
        for g, w in zip(got, want):
            torch.testing.assert_close(g, w)
        base = base.detach()
    # two calls; the 'backward' route's forward is oneDNN's convolution
    assert products == {'forward': 2 if forward_ratio == 0 else 0,
                        'dW': 2, 'dX': 2}


def test_pix2pixhd_layers_use_it_with_unchanged_parameters():
    block = ResidualBlock(1024)
    convs = [m for m in block.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 2 and all(isinstance(c, Conv2d) for c in convs)
    # training: products at 8x16 (too few tiles to amortise Winograd's
    # kernel transform), Winograd from 16x32 on
    assert convs[0].route(torch.empty(1, 1024, 8, 16)) == 'matmul'
    assert convs[0].route(torch.empty(1, 1024, 16, 32)) == 'winograd'
    assert convs[0].route(torch.empty(1, 1024, 32, 64)) == 'winograd'
    block.eval()
    with torch.no_grad():  # inference: the transform is cached, Winograd
        assert convs[0].route(torch.empty(1, 1024, 8, 16)) == 'winograd'
    layer = ConvNormAct(3, 4, 3, padding=1)
    assert set(dict(layer.named_parameters())) == {'conv.weight', 'conv.bias'}


def test_residual_block_matches_native_route(monkeypatch, products):
    torch.manual_seed(0)
    block = ResidualBlock(256)
    x = torch.randn(1, 256, 4, 8, requires_grad=True)   # 256 >= 4 * 32 pixels
    assert block.body[0].conv.route(x) == 'matmul'
    out = block(x)
    grads = torch.autograd.grad(out.square().sum(), [x, *block.parameters()])
    assert products == {'forward': 2, 'dW': 2, 'dX': 2}  # both convolutions
    monkeypatch.setattr(matmul_conv, 'MATMUL_PIXEL_RATIO', float('inf'))
    monkeypatch.setattr(matmul_conv, 'MATMUL_BACKWARD_PIXEL_RATIO',
                        float('inf'))
    assert block.body[0].conv.route(x) is None
    native = block(x)
    torch.testing.assert_close(out, native, rtol=1e-4, atol=1e-5)
    native_grads = torch.autograd.grad(native.square().sum(),
                                       [x, *block.parameters()])
    assert products == {'forward': 2, 'dW': 2, 'dX': 2}  # none more
    # Float rounding, relative to the gradients' scale (the conv biases
    # before InstanceNorm have a true gradient of 0: both are rounding noise).
    scale = max(g.abs().max().item() for g in native_grads)
    for got, want in zip(grads, native_grads):
        torch.testing.assert_close(got, want, rtol=0, atol=1e-5 * scale)


@pytest.mark.parametrize('batch, kernel, padding, stride, channels_last', [
    (1, (3, 3), (1, 1), (1, 1), False),
    (2, (3, 3), (1, 1), (1, 1), True),
    (3, (4, 2), (2, 0), (2, 1), False),
    (2, (1, 3), (0, 1), (1, 2), True),
])
def test_im2col_matches_unfold(batch, kernel, padding, stride, channels_last):
    x = torch.randn(batch, 5, 9, 11)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    cols = conv_products.im2col(x, kernel, padding, stride)
    unfolded = F.unfold(x, kernel, padding=padding, stride=stride)  # [N, K, L]
    assert torch.equal(cols, unfolded.transpose(0, 1).reshape(cols.shape))


def test_im2col_of_a_view_with_an_offset():
    """The strided copy starts at the view's own first element."""
    x = torch.randn(2, 5, 12, 15)[:, 1:4, 2:11, 3:14]
    cols = conv_products.im2col(x, (3, 3), (0, 0), (1, 1))
    unfolded = F.unfold(x, 3)
    assert torch.equal(cols, unfolded.transpose(0, 1).reshape(cols.shape))
