"""layers.InstanceNorm2d: nn.InstanceNorm2d's values, the input's layout."""
import pytest
import torch
from torch import nn

from gentk.models.layers import build_norm
from gentk.models.layers.instance_norm import InstanceNorm2d

LAYOUTS = [torch.contiguous_format, torch.channels_last]


@pytest.mark.parametrize('layout', LAYOUTS, ids=['nchw', 'nhwc'])
@pytest.mark.parametrize('batch', [1, 3])
@pytest.mark.parametrize('affine', [False, True])
def test_matches_nn_instance_norm_and_keeps_layout(layout, batch, affine):
    torch.manual_seed(0)
    norm = InstanceNorm2d(5, affine=affine)
    ref = nn.InstanceNorm2d(5, affine=affine)
    if affine:  # non-trivial scale and shift
        with torch.no_grad():
            norm.weight.uniform_(0.5, 2.0)
            norm.bias.normal_()
        ref.load_state_dict(norm.state_dict())
    base = torch.randn(batch, 5, 6, 7) * 3 + 1
    x = base.contiguous(memory_format=layout).requires_grad_()
    out = norm(x)
    assert out.is_contiguous(memory_format=layout)
    expected = ref(base.requires_grad_())
    torch.testing.assert_close(out, expected)
    # per sample and channel: mean 0, biased variance 1
    if not affine:
        torch.testing.assert_close(out.mean((2, 3)), torch.zeros(batch, 5),
                                   atol=1e-5, rtol=0)
        torch.testing.assert_close(out.var((2, 3), unbiased=False),
                                   torch.ones(batch, 5), atol=1e-3, rtol=0)
    grad = torch.randn(out.shape)
    params = list(norm.parameters())
    want = torch.autograd.grad(expected, [base, *ref.parameters()], grad,
                               retain_graph=True)
    # Output gradients in either layout (torch 2.13's nn.InstanceNorm2d
    # gets the input gradient wrong for an NCHW input and an NHWC gradient)
    for grad_layout in LAYOUTS:
        got = torch.autograd.grad(
            out, [x, *params], grad.contiguous(memory_format=grad_layout),
            retain_graph=True)
        assert got[0].is_contiguous(memory_format=layout)
        for g, w in zip(got, want):
            torch.testing.assert_close(g, w, rtol=1e-4, atol=1e-5)


def test_running_stats_fall_back_to_nn_instance_norm():
    norm = InstanceNorm2d(3, track_running_stats=True)
    ref = nn.InstanceNorm2d(3, track_running_stats=True)
    x = torch.randn(2, 3, 4, 4) + 2
    torch.testing.assert_close(norm(x), ref(x))
    torch.testing.assert_close(norm.running_mean, ref.running_mean)
    assert norm.running_mean.abs().sum() > 0
    norm.eval(), ref.eval()
    torch.testing.assert_close(norm(x), ref(x))


def test_wrong_channel_count_names_both():
    with pytest.raises(ValueError, match=r'InstanceNorm2d\(4\).*3 channels'):
        InstanceNorm2d(4)(torch.randn(1, 3, 5, 5))


@pytest.mark.parametrize('type_', ['IN', 'IN2d'])
def test_build_norm_gives_the_layout_preserving_norm(type_):
    norm = build_norm(dict(type=type_, affine=True), 8)
    assert type(norm) is InstanceNorm2d
    assert norm.affine and not norm.track_running_stats
    assert set(dict(norm.named_parameters())) == {'weight', 'bias'}


@pytest.mark.parametrize('channels_last', [False, True])
def test_a_single_pixel_has_no_statistics(channels_last):
    """As nn.InstanceNorm2d, a 1x1 map is an error, not the bias."""
    x = torch.randn(1, 4, 1, 1)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    with pytest.raises(ValueError, match=r'more than one spatial element.*'
                                         r'\(1, 4, 1, 1\)'):
        InstanceNorm2d(4, affine=True)(x)
    with pytest.raises(ValueError):
        torch.nn.InstanceNorm2d(4)(x)
