"""The one-hot route of layers.Conv2d: a convolution over a one-hot label
map as a table lookup must equal nn.Conv2d's, and must only run where the
label channels really are one-hot."""
import pytest
import torch
import torch.nn.functional as F
from conv_twins import (assert_matches_twin, assert_penalty_matches_twin,
                        twin)

from gentk.datasets.synthetic_streets import render_street_scene
from gentk.models.layers import ConvNormAct, Conv2d, matmul_conv, one_hot_conv
from gentk.models.layers.one_hot_conv import one_hot_index


def label_input(batch=1, classes=5, extra=1, height=9, width=11,
                channels_last=False, ignore=True, seed=0):
    """One-hot labels (a few ignored, all-zero pixels) + dense channels."""
    gen = torch.Generator().manual_seed(seed)
    label = torch.randint(0, classes, (batch, height, width), generator=gen)
    one_hot = F.one_hot(label, classes).permute(0, 3, 1, 2).float()
    if ignore:
        one_hot[:, :, 0, :3] = 0
    dense = torch.randn(batch, extra, height, width, generator=gen)
    x = torch.cat([one_hot, dense], 1)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    return x, label


@pytest.fixture
def lookups(monkeypatch):
    """Counts the calls that took the table lookup."""
    calls = []
    original = matmul_conv.one_hot_conv2d

    def counting(*args, **kwargs):
        calls.append(args[0].shape)
        return original(*args, **kwargs)

    monkeypatch.setattr(matmul_conv, 'one_hot_conv2d', counting)
    return calls


def test_index_of_one_hot_channels():
    x, label = label_input(classes=4, extra=2)
    index = one_hot_index(x, 4)
    expected = label.clone()
    expected[:, 0, :3] = 4  # all-zero pixels point past the classes
    assert torch.equal(index, expected)
    for bad in (0.5, 2.0):
        y = x.clone()
        y[0, 1, 4, 4] = bad
        assert one_hot_index(y, 4) is None
    two_hot = x.clone()
    two_hot[0, :2, 5, 5] = 1
    assert one_hot_index(two_hot, 4) is None
    # the dense channels after the labels are not looked at
    assert one_hot_index(x, 4) is not None


@pytest.mark.parametrize('kernel, stride, padding, mode', [
    (7, 1, 3, 'reflect'),   # pix2pixHD's stem
    (3, 1, 1, 'zeros'),
    (4, 2, 1, 'zeros'),     # strided, zero padding: the index is padded too
    (3, 2, 0, 'zeros'),
])
@pytest.mark.parametrize('extra', [0, 2])
@pytest.mark.parametrize('batch, channels_last', [(1, True), (2, False),
                                                  (2, True)])
def test_matches_nn_conv2d(lookups, kernel, stride, padding, mode, extra,
                           batch, channels_last):
    classes = 5
    conv = Conv2d(classes + extra, 6, kernel, stride=stride, padding=padding,
                  padding_mode=mode, one_hot_channels=classes)
    x, _ = label_input(batch, classes, extra, channels_last=channels_last)
    x.requires_grad_()
    assert conv(x).is_contiguous(memory_format=torch.channels_last
                                 if channels_last else torch.contiguous_format)
    assert_matches_twin(conv, x)  # output and the gradients in x, W, b
    assert len(lookups) == 2


@pytest.mark.parametrize('block', [1, 2 * 11 * 9])  # one row; two rows
def test_lookup_in_blocks_of_rows(monkeypatch, block):
    """Large maps look their taps up a block of output rows at a time."""
    monkeypatch.setattr(one_hot_conv, 'LOOKUP_BLOCK', block)
    conv = Conv2d(6, 4, 3, padding=1, one_hot_channels=5)
    x, _ = label_input(batch=2, classes=5, extra=1, height=7)
    torch.testing.assert_close(conv(x), twin(conv)(x), rtol=1e-5, atol=1e-5)


def test_not_one_hot_falls_back(lookups):
    conv = Conv2d(6, 4, 3, padding=1, one_hot_channels=5)
    x, _ = label_input(classes=5, extra=1)
    x[0, 2, 3, 3] = 0.5  # a soft label: the lookup would be wrong
    assert conv.route(x) == 'one_hot'
    torch.testing.assert_close(conv(x), twin(conv)(x))
    assert lookups == []
    conv.one_hot_channels = 0
    assert conv.route(x) is None


def test_frozen_weights_and_gradient_penalty():
    conv = Conv2d(6, 4, 3, padding=1, padding_mode='reflect',
                  one_hot_channels=5)
    x, _ = label_input(batch=2, classes=5, extra=1)
    x.requires_grad_()
    assert_penalty_matches_twin(conv, x, rtol=1e-4, atol=1e-4)
    conv.requires_grad_(False)
    (gx,) = torch.autograd.grad(conv(x).square().sum(), x)
    want, = torch.autograd.grad(twin(conv)(x).square().sum(), x)
    torch.testing.assert_close(gx, want, rtol=1e-5, atol=1e-5)


def test_bad_declarations():
    with pytest.raises(ValueError, match='one_hot_channels'):
        Conv2d(4, 4, 3, one_hot_channels=5)
    with pytest.raises(ValueError, match='one_hot_channels'):
        ConvNormAct(4, 4, 3, transposed=True, one_hot_channels=2)


def street_labels(*seeds, height=128, width=256):
    """``[N, H, W]``: the label maps of synthetic street scenes."""
    return torch.stack([torch.as_tensor(
        render_street_scene(seed, height, width)['label']).long()
        for seed in seeds])


def one_hot_channels_last(label, classes, extra):
    """One-hot ``label`` (label ``classes``: an all-zero, ignored pixel) and
    ``extra`` random dense channels, channels-last as the models see them."""
    one_hot = F.one_hot(label, classes + 1)[..., :classes].permute(0, 3, 1, 2)
    dense = torch.rand(label.size(0), extra, *label.shape[1:])
    x = torch.cat([one_hot.float(), dense], 1)
    return x.contiguous(memory_format=torch.channels_last)


@pytest.fixture
def weight_grads(monkeypatch):
    """Per backward: True where the weight gradient came from the label
    runs, False where it fell back to the convolution's own."""
    routes = []
    original = one_hot_conv.one_hot_weight_grad

    def recording(*args):
        grad = original(*args)
        routes.append(grad is not None)
        return grad

    monkeypatch.setattr(one_hot_conv, 'one_hot_weight_grad', recording)
    return routes


def conv_grads(conv, x, grad):
    """Gradients of ``conv(x)`` against ``grad`` in the weight, the bias
    and (where it requires one) ``x``."""
    inputs = [conv.weight, conv.bias] + ([x] if x.requires_grad else [])
    return torch.autograd.grad(conv(x), inputs, grad)


def assert_grads_match(got, want):
    """Equal up to float32 summation order, relative to each gradient's
    largest entry (sums over thousands of pixels)."""
    assert len(got) == len(want)
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w, rtol=1e-4,
                                   atol=1e-5 * w.abs().max().item())


@pytest.mark.parametrize('layer', ['stem', 'discriminator'])
def test_weight_grad_from_label_runs(weight_grads, layer):
    """Realistic label maps take the run-length weight gradient: pix2pixHD's
    7x7 stem (reflection padding), and a discriminator's first layer (4x4,
    stride 2, zero padding, labels + edges + RGB, batch 2, ignored pixels,
    with the input's gradient as well)."""
    if layer == 'stem':
        x = one_hot_channels_last(street_labels(0), 35, extra=1)
        conv = Conv2d(36, 64, 7, padding=3, padding_mode='reflect',
                      one_hot_channels=35)
    else:
        label = street_labels(1, 2)
        label[0, :6, :40] = 35
        x = one_hot_channels_last(label, 35, extra=4)
        conv = Conv2d(39, 64, 4, stride=2, padding=2, one_hot_channels=35)
    x.requires_grad_(layer == 'discriminator')
    grad = torch.randn_like(conv(x))
    assert_grads_match(conv_grads(conv, x, grad),
                       conv_grads(twin(conv), x, grad))
    assert weight_grads == [True]


@pytest.mark.parametrize('kernel, stride, padding, mode', [
    (7, 1, 3, 'reflect'),
    (3, 1, 1, 'zeros'),
    (4, 2, 2, 'zeros'),
    (3, 2, 0, 'zeros'),
    (5, 3, 1, 'zeros'),
    ((3, 5), (2, 1), (1, 2), 'zeros'),
    (1, 1, 0, 'zeros'),
])
@pytest.mark.parametrize('run_tap_block', [2 ** 20, 7])
def test_weight_grad_from_runs_any_shape(monkeypatch, weight_grads, kernel,
                                         stride, padding, mode,
                                         run_tap_block):
    """Forced onto the runs (random labels have too many to pay), in
    chunks of taps or all at once."""
    monkeypatch.setattr(one_hot_conv, 'PIXEL_COST', -10 ** 9)
    monkeypatch.setattr(one_hot_conv, 'RUN_TAP_BLOCK', run_tap_block)
    conv = Conv2d(7, 6, kernel, stride=stride, padding=padding,
                  padding_mode=mode, one_hot_channels=5)
    x, _ = label_input(batch=2, classes=5, extra=2, height=10, width=13,
                       channels_last=True)
    grad = torch.randn_like(conv(x))
    assert_grads_match(conv_grads(conv, x, grad),
                       conv_grads(twin(conv), x, grad))
    assert weight_grads == [True]


@pytest.mark.parametrize('labels', ['noise', 'few'])
def test_weight_grad_falls_back(monkeypatch, weight_grads, labels):
    """Noise labels (a run every pixel or so) and few label channels cost
    more as runs: the convolution's own weight gradient, equal to the runs'
    one."""
    if labels == 'noise':
        label = torch.randint(0, 36, (2, 40, 48))
        classes, kernel = 35, 7
    else:
        label = street_labels(3, height=64, width=128) % 6  # 6: ignored
        classes, kernel = 5, 3
    conv = Conv2d(classes + 1, 16, kernel, padding=kernel // 2,
                  one_hot_channels=classes)
    x = one_hot_channels_last(label, classes, extra=1)
    grad = torch.randn_like(conv(x))
    fallback = conv_grads(conv, x, grad)
    assert_grads_match(fallback, conv_grads(twin(conv), x, grad))
    monkeypatch.setattr(one_hot_conv, 'PIXEL_COST', -10 ** 9)
    assert_grads_match(conv_grads(conv, x, grad), fallback)
    assert weight_grads == [False, True]
