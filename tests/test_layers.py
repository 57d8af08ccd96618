"""Shared layers: one-hot, instance edges, instance pooling, blocks, init."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from gentk.models.layers import (ConvNormAct, ResidualBlock, build_norm,
                                 init_normal_, instance_average_pool,
                                 instance_edges, one_hot, pad_to_multiple)


def test_one_hot_hand_example_with_ignore():
    label = torch.tensor([[[0, 2, 255],
                           [1, 1, 0]]])
    expected = torch.tensor([[[[1, 0, 0], [0, 0, 1]],
                              [[0, 0, 0], [1, 1, 0]],
                              [[0, 1, 0], [0, 0, 0]]]], dtype=torch.float32)
    out = one_hot(label, num_classes=3)
    assert out.shape == (1, 3, 2, 3) and out.dtype == torch.float32
    assert torch.equal(out, expected)
    # [B, 1, H, W] is accepted too.
    assert torch.equal(one_hot(label.unsqueeze(1), 3), expected)


def test_one_hot_batched_matches_reference():
    label = torch.randint(0, 7, (3, 5, 4))
    expected = nn.functional.one_hot(label, 7).permute(0, 3, 1, 2).float()
    assert torch.equal(one_hot(label, 7), expected)


def test_one_hot_out_of_range_lists_ids():
    label = torch.tensor([[[0, 3, 255], [-1, 3, 1]]])
    with pytest.raises(ValueError) as err:
        one_hot(label, num_classes=3)
    message = str(err.value)
    assert '[-1, 3]' in message and '[0, 3)' in message
    with pytest.raises(ValueError, match=r'\[255\]'):
        one_hot(label.clamp(0, 2).index_fill(2, torch.tensor([2]), 255), 3,
                ignore_index=None)
    with pytest.raises(TypeError):
        one_hot(label.float(), 3)


def test_instance_edges_hand_map():
    # Two touching instances: 1 on the left, 2 on the right, 2 below on the
    # left of the last row.
    inst = torch.tensor([[[1, 1, 2, 2, 2],
                          [1, 1, 2, 2, 2],
                          [1, 1, 1, 2, 2],
                          [2, 2, 1, 2, 2]]])
    expected = torch.tensor([[[0, 1, 1, 0, 0],
                              [0, 1, 1, 0, 0],
                              [1, 1, 1, 1, 0],
                              [1, 1, 1, 1, 0]]], dtype=torch.float32)
    out = instance_edges(inst)
    assert out.shape == (1, 1, 4, 5)
    assert torch.equal(out[:, 0], expected)
    assert torch.equal(instance_edges(inst.unsqueeze(1).float()), out)
    assert instance_edges(torch.full((2, 3, 3), 7)).sum() == 0


def _loop_instance_mean(features, inst):
    out = torch.empty_like(features)
    for b in range(features.size(0)):
        for i in inst[b].unique():
            mask = inst[b] == i
            out[b][:, mask] = features[b][:, mask].mean(dim=1, keepdim=True)
    return out


def test_instance_average_pool_matches_loop_without_mixing_images():
    torch.manual_seed(0)
    features = torch.randn(2, 3, 6, 7, requires_grad=True)
    inst = torch.randint(0, 4, (2, 6, 7))
    inst[1, 0, 0] = -1  # negative ids are instances too
    out = instance_average_pool(features, inst)
    torch.testing.assert_close(out, _loop_instance_mean(features.detach(), inst))
    # Same ids in both images, different features: must not mix.
    assert not torch.allclose(out[0][:, inst[0] == 1][:, 0],
                              out[1][:, inst[1] == 1][:, 0])
    torch.testing.assert_close(instance_average_pool(features, inst.unsqueeze(1)), out)

    # d(sum of pooled)/d(feature) = 1 for every pixel: each instance's mean
    # is replicated over as many pixels as it averages.
    out.sum().backward()
    torch.testing.assert_close(features.grad, torch.ones_like(features))
    weights = torch.randn_like(out)
    features.grad = None
    (instance_average_pool(features, inst) * weights).sum().backward()
    torch.testing.assert_close(features.grad, _loop_instance_mean(weights, inst))


def test_instance_average_pool_in_half_precision_counts_in_float32():
    """Under float16 autocast an instance of more than 65504 pixels had an
    infinite count (NaN or zero means)."""
    features = torch.full((1, 2, 256, 512), 0.5, dtype=torch.float16)
    features[:, 1] = 0.05
    inst = torch.zeros(1, 256, 512, dtype=torch.long)   # 131072 pixels
    inst[:, :8] = 7
    out = instance_average_pool(features, inst)
    assert out.dtype == torch.float16
    expected = torch.tensor([0.5, 0.05]).view(2, 1, 1).expand(2, 256, 512)
    torch.testing.assert_close(out[0].float(), expected, rtol=1e-3, atol=0)


def test_pad_to_multiple():
    x = torch.arange(6.).view(1, 1, 2, 3)
    padded = pad_to_multiple(x, 4)
    assert padded.shape == (1, 1, 4, 4)
    assert torch.equal(padded[..., :2, :3], x)
    assert torch.equal(padded[..., 3, :3], x[..., 1, :])  # replicated
    assert pad_to_multiple(x, 4, min_multiples=2).shape == (1, 1, 8, 8)
    y = torch.zeros(1, 1, 8, 16)
    assert pad_to_multiple(y, 8) is y


def test_build_norm_configs():
    inorm = build_norm(dict(type='IN'), 8)
    assert isinstance(inorm, nn.InstanceNorm2d)
    assert not inorm.affine and not inorm.track_running_stats
    assert len(list(inorm.parameters())) == 0 and len(list(inorm.buffers())) == 0
    assert isinstance(build_norm(dict(type='BN'), 8), nn.BatchNorm2d)
    assert isinstance(build_norm(None, 8), nn.Identity)
    assert isinstance(build_norm(dict(type='none'), 8), nn.Identity)


def test_conv_norm_act_bias_rule_and_reflect():
    assert ConvNormAct(3, 4, 3, norm_cfg=dict(type='IN')).conv.bias is not None
    assert ConvNormAct(3, 4, 3, norm_cfg=dict(type='BN')).conv.bias is None
    layer = ConvNormAct(3, 4, 3, padding=1, padding_mode='reflect')
    assert layer(torch.randn(1, 3, 5, 6)).shape == (1, 4, 5, 6)
    up = ConvNormAct(4, 2, 3, stride=2, padding=1, output_padding=1,
                     transposed=True)
    assert up(torch.randn(1, 4, 5, 6)).shape == (1, 2, 10, 12)
    with pytest.raises(ValueError):
        ConvNormAct(4, 2, 3, transposed=True, padding_mode='reflect')


def test_residual_block_shape_and_dropout():
    block = ResidualBlock(8, dropout=0.5)
    assert any(isinstance(m, nn.Dropout) for m in block.modules())
    x = torch.randn(2, 8, 5, 5)
    assert block(x).shape == x.shape
    assert not any(isinstance(m, nn.Dropout) for m in ResidualBlock(8).modules())


def test_residual_block_is_x_plus_its_two_convolutions():
    """pix2pixHD's R_k, written out with torch's own layers: reflection pad,
    3x3 conv, instance norm, ReLU, again without ReLU, plus the input."""
    torch.manual_seed(0)
    block = ResidualBlock(6)
    init_normal_(block, std=0.1)
    first, second = (m for m in block.modules() if isinstance(m, nn.Conv2d))
    x = torch.randn(2, 6, 7, 9)

    def conv_norm(t, conv):
        t = F.conv2d(F.pad(t, (1, 1, 1, 1), mode='reflect'), conv.weight,
                     conv.bias)
        return F.instance_norm(t)
    expected = x + conv_norm(F.relu(conv_norm(x, first)), second)
    torch.testing.assert_close(block(x), expected, rtol=1e-5, atol=1e-5)


def test_init_normal_statistics():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(64, 64, 3), nn.BatchNorm2d(4096),
                          nn.ConvTranspose2d(64, 32, 3), nn.Linear(256, 256),
                          nn.InstanceNorm2d(8))
    for p in model.parameters():
        nn.init.constant_(p, 5.0)
    init_normal_(model, std=0.02)
    conv, norm, deconv, linear = model[0], model[1], model[2], model[3]
    for layer in (conv, deconv, linear):
        assert abs(layer.weight.std().item() - 0.02) < 0.001
        assert abs(layer.weight.mean().item()) < 0.001
        assert torch.count_nonzero(layer.bias) == 0
    assert abs(norm.weight.mean().item() - 1.0) < 0.002
    assert abs(norm.weight.std().item() - 0.02) < 0.002
    assert torch.count_nonzero(norm.bias) == 0
