"""The one-hot route of layers.Conv2d: a convolution over a one-hot label
map as a table lookup must equal nn.Conv2d's, and must only run where the
label channels really are one-hot."""
import pytest
import torch
import torch.nn.functional as F
from conv_twins import (assert_matches_twin, assert_penalty_matches_twin,
                        twin)

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
