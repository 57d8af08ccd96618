"""Winograd F(2x2, 3x3) convolution and Conv2d's route to it: values and
gradients against F.conv2d / nn.Conv2d, layouts, the kernel-transform
cache, double backward and FLOP counts."""
import pytest
import torch
import torch.nn.functional as F
from conv_twins import assert_matches_twin, assert_penalty_matches_twin, twin
from torch.utils.flop_counter import FlopCounterMode

from gentk.models.layers import Conv2d, matmul_conv, native_convolutions
from gentk.models.layers.winograd_conv import transform_weight, winograd_conv2d

LAYOUTS = {'nchw': torch.contiguous_format, 'nhwc': torch.channels_last}


@pytest.fixture
def always_winograd(monkeypatch):
    """Route every 3x3 stride-1 convolution, however small, to Winograd."""
    monkeypatch.setattr(matmul_conv, 'WINOGRAD_MIN_CHANNELS', 1)
    monkeypatch.setattr(matmul_conv, 'WINOGRAD_MIN_TILES', 1)
    monkeypatch.setattr(matmul_conv, 'WINOGRAD_MIN_TILES_UNCACHED', 1)


def test_transform_of_a_kernel_is_g_g_gt():
    g = torch.randn(2, 3, 3, 3, dtype=torch.float64)
    big_g = torch.tensor([[1, 0, 0], [.5, .5, .5], [.5, -.5, .5], [0, 0, 1]],
                         dtype=torch.float64)
    tiles = transform_weight(g)
    assert tiles.shape == (16, 2, 3)
    for k in range(2):
        for c in range(3):
            want = big_g @ g[k, c] @ big_g.t()  # 4x4
            torch.testing.assert_close(tiles[:, k, c], want.flatten())


@pytest.mark.parametrize('layout', LAYOUTS)
@pytest.mark.parametrize('shape, padding, bias', [
    ((1, 5, 10, 12), (0, 0), True),   # even output 8x10
    ((2, 4, 7, 9), (1, 1), True),     # odd output 7x9, batch 2
    ((1, 3, 6, 5), (1, 0), False),    # mixed padding, odd width
    ((1, 2, 3, 3), (0, 0), True),     # a single output pixel
])
def test_matches_conv2d_values_and_gradients(layout, shape, padding, bias):
    torch.manual_seed(0)
    x = torch.randn(shape, dtype=torch.float64) \
        .contiguous(memory_format=LAYOUTS[layout]).requires_grad_()
    w = torch.randn(6, shape[1], 3, 3, dtype=torch.float64, requires_grad=True)
    b = torch.randn(6, dtype=torch.float64, requires_grad=True) if bias else None
    out, want = winograd_conv2d(x, w, b, padding), F.conv2d(x, w, b,
                                                            padding=padding)
    assert out.shape == want.shape
    torch.testing.assert_close(out, want)
    grad = torch.randn_like(want)
    inputs = [x, w] + ([b] if bias else [])
    for got, exp in zip(torch.autograd.grad(out, inputs, grad),
                        torch.autograd.grad(want, inputs, grad)):
        torch.testing.assert_close(got, exp)


@pytest.mark.parametrize('layout', LAYOUTS)
def test_keeps_the_input_layout(layout):
    fmt = LAYOUTS[layout]
    x = torch.randn(1, 4, 8, 10).contiguous(memory_format=fmt).requires_grad_()
    w = torch.randn(5, 4, 3, 3, requires_grad=True)
    out = winograd_conv2d(x, w, None, (1, 1))
    assert out.is_contiguous(memory_format=fmt)
    grad_x, = torch.autograd.grad(out, [x], torch.randn_like(out))
    assert grad_x.is_contiguous(memory_format=fmt)


def test_rejects_other_kernel_sizes():
    with pytest.raises(ValueError, match=r'3x3 kernels, got \(5, 5\)'):
        winograd_conv2d(torch.randn(1, 2, 8, 8), torch.randn(2, 2, 5, 5))


@pytest.mark.parametrize('mode', ['reflect', 'zeros'])
def test_conv2d_route_matches_nn_conv2d(always_winograd, mode):
    torch.manual_seed(0)
    conv = Conv2d(6, 7, 3, padding=1, padding_mode=mode)
    x = torch.randn(2, 6, 9, 12, requires_grad=True)
    assert conv.route(x) == 'winograd'
    assert_matches_twin(conv, x)


def test_route_selection():
    conv = Conv2d(1024, 1024, 3, padding=1)
    small, medium = torch.empty(1, 1024, 8, 16), torch.empty(1, 1024, 16, 32)
    # training a trainable weight: the transform is computed per call and
    # pays from 128 tiles on (16x32: 8 x 16 tiles)
    assert conv.route(small) == 'matmul'
    assert conv.route(medium) == 'winograd'
    assert conv.route(torch.empty(4, 1024, 8, 16)) == 'winograd'  # 4 x 32
    conv.eval()
    with torch.no_grad():  # cached transform: from 32 tiles on
        assert conv.route(small) == 'winograd'
        assert conv.route(torch.empty(1, 1024, 4, 8)) == 'matmul'
    conv.train()
    conv.weight.requires_grad_(False)  # frozen: cached in training mode too
    assert conv.route(small) == 'winograd'
    conv.weight.requires_grad_(True)
    # channels-last maps beyond WINOGRAD_MAX_CHANNELS_LAST_PIXELS stay native
    big = torch.empty(1, 1024, 64, 64).contiguous(memory_format=torch.channels_last)
    assert conv.route(big) is None
    assert conv.route(big.contiguous()) == 'winograd'
    assert Conv2d(128, 1024, 3, padding=1).route(medium[:, :128]) != 'winograd'
    assert Conv2d(1024, 1024, 3, stride=2, padding=1).route(medium) != 'winograd'
    assert Conv2d(1024, 1024, 5, padding=2).route(medium) != 'winograd'
    assert conv.route(medium.double()) is None
    with native_convolutions():
        assert conv.route(medium) is None
        with native_convolutions():
            assert conv.route(medium) is None
        assert conv.route(medium) is None
    assert conv.route(medium) == 'winograd'


def test_cached_transform_follows_the_weight(always_winograd):
    torch.manual_seed(0)
    conv = Conv2d(4, 5, 3, padding=1).eval()
    ref = twin(conv).eval()
    x = torch.randn(1, 4, 6, 8)
    with torch.no_grad():
        torch.testing.assert_close(conv(x), ref(x))
        cached = conv._winograd_cache[2]
        torch.testing.assert_close(conv(x), ref(x))
        assert conv._winograd_cache[2] is cached  # reused while unchanged
        conv.weight.mul_(-2.0)  # an in-place update (an optimiser's)
        ref.weight.mul_(-2.0)
        torch.testing.assert_close(conv(x), ref(x))
        assert conv._winograd_cache[2] is not cached
    state = {k: torch.randn_like(v) for k, v in conv.state_dict().items()}
    conv.load_state_dict(state)
    ref.load_state_dict(state)
    with torch.no_grad():
        torch.testing.assert_close(conv(x), ref(x))
    # a weight made under inference mode has no version to key on: no cache
    with torch.inference_mode():
        frozen = Conv2d(4, 5, 3, padding=1).eval()
        frozen(x)
        assert '_winograd_cache' not in frozen.__dict__
    # the cache is no part of the module's state
    assert set(conv.state_dict()) == {'weight', 'bias'}
    # a transform cached under inference mode serves autograd later
    conv.weight.requires_grad_(False)
    with torch.inference_mode():
        torch.testing.assert_close(conv(x), ref(x))
    x_grad = x.clone().requires_grad_()
    conv(x_grad).sum().backward()
    torch.testing.assert_close(x_grad.grad, torch.autograd.grad(
        ref(x_grad).sum(), [x_grad])[0])
    conv.weight.requires_grad_(True)
    # a training-mode module with a trainable weight keeps none, whichever
    # route its training calls take
    assert '_winograd_cache' in conv.__dict__
    conv.train()
    with native_convolutions():
        conv(x).sum().backward()
    assert '_winograd_cache' not in conv.__dict__


def test_double_backward_is_exact(always_winograd):
    """A gradient penalty through the route: its gradient in the weight
    equals the native convolution's."""
    torch.manual_seed(0)
    conv = Conv2d(3, 4, 3, padding=1)
    x = torch.randn(2, 3, 6, 6, requires_grad=True)
    assert conv.route(x) == 'winograd'
    assert_penalty_matches_twin(conv, x, rtol=1e-4, atol=1e-4)


def test_flops_nominal_and_executed(always_winograd):
    conv = Conv2d(8, 16, 3, padding=1, bias=False)
    x = torch.randn(1, 8, 6, 10)
    direct = 2 * 16 * 8 * 9 * 6 * 10
    with native_convolutions():
        nominal = FlopCounterMode(display=False)
        with nominal:
            conv(x)
    assert nominal.get_total_flops() == direct
    executed = FlopCounterMode(display=False)
    with executed:
        conv(x)
    counts = {str(op).split('.')[-1]: n for op, n in
              executed.get_flop_counts()['Global'].items()}
    tiles = 3 * 5
    assert counts['bmm'] == 2 * 16 * 16 * 8 * tiles  # 16 products of 16 MACs
    assert counts['bmm'] * 9 == direct * 4
