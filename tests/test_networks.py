"""pix2pixHD / pix2pix generators, discriminators and the feature encoder."""
import pytest
import torch
from torch import nn

from gentk.models.discriminators import (MultiScaleDiscriminator,
                                         NLayerDiscriminator)
from gentk.models.encoders import InstanceFeatureEncoder
from gentk.models.generators import (GlobalGenerator, LocalEnhancer,
                                     UnetGenerator)
from gentk.registry import MODELS

ODD_SIZE = (37, 53)


def num_params(module):
    return sum(p.numel() for p in module.parameters())


# Paper-size models are built on the meta device: shapes only, no memory,
# no initialisation cost.
@pytest.mark.parametrize('build, expected', [
    (lambda: GlobalGenerator(36), 182_546_755),
    (lambda: LocalEnhancer(36), 182_857_059),
    (lambda: NLayerDiscriminator(39), 2_801_601),
    (lambda: MultiScaleDiscriminator(39, num_scales=3), 3 * 2_801_601),
    (lambda: InstanceFeatureEncoder(), 788_803),  # c7s1-16 ... c7s1-3, by hand
    (lambda: UnetGenerator(3), 54_413_955),  # pix2pix unet_256: "54.414 M"
], ids=['global', 'local', 'patch_d', 'multiscale_d', 'encoder', 'unet'])
def test_paper_parameter_counts(build, expected):
    with torch.device('meta'):
        assert num_params(build()) == expected


def test_local_enhancer_structure():
    with torch.device('meta'):
        model = LocalEnhancer(36, num_enhancers=2)
    assert model.global_generator.head is None
    assert model.global_generator.feature_channels == 32 * 4
    assert [e.upsample.conv.out_channels for e in model.enhancers] == [64, 32]
    assert model.enhancers[0].head is None and model.enhancers[1].head is not None
    with pytest.raises(ValueError, match='base_channels'):
        LocalEnhancer(4, global_cfg=dict(base_channels=8))


def test_local_enhancer_input_pyramid_averages_real_pixels():
    """The global generator sees the input averaged over 3x3 windows at
    stride 2, border windows over the pixels inside the map only (the
    official AvgPool2d(3, 2, 1, count_include_pad=False))."""
    torch.manual_seed(0)
    model = LocalEnhancer(3, base_channels=2, num_enhancers=1, num_blocks=1,
                          global_cfg=dict(num_downsamples=2, num_blocks=1))
    seen = []
    model.global_generator.stem.register_forward_pre_hook(
        lambda module, args: seen.append(args[0]))
    x = torch.rand(1, 3, 16, 16)    # a multiple of size_multiple: no padding
    model(x)
    expected = torch.empty(1, 3, 8, 8)
    for i in range(8):
        for j in range(8):
            rows = slice(max(2 * i - 1, 0), 2 * i + 2)
            cols = slice(max(2 * j - 1, 0), 2 * j + 2)
            expected[0, :, i, j] = x[0, :, rows, cols].mean(dim=(1, 2))
    torch.testing.assert_close(seen[0], expected)


def test_networks_expose_their_channels():
    with torch.device('meta'):
        for model in [GlobalGenerator(7, base_channels=4), UnetGenerator(7),
                      LocalEnhancer(7, out_channels=3),
                      InstanceFeatureEncoder(7, out_channels=3)]:
            assert (model.in_channels, model.out_channels) == (7, 3)
        trunk = GlobalGenerator(7, base_channels=4, with_head=False)
        assert trunk.out_channels == trunk.feature_channels == 4
        assert NLayerDiscriminator(7).in_channels == 7
        assert MultiScaleDiscriminator(7).in_channels == 7


def test_registry_builds_every_network():
    for cfg in [dict(type='GlobalGenerator', in_channels=3, base_channels=4,
                     num_downsamples=1, num_blocks=1),
                dict(type='LocalEnhancer', in_channels=3, base_channels=2,
                     global_cfg=dict(num_downsamples=1, num_blocks=1)),
                dict(type='UnetGenerator', in_channels=3, base_channels=2,
                     num_downs=3),
                dict(type='NLayerDiscriminator', in_channels=3, base_channels=2),
                dict(type='MultiScaleDiscriminator', in_channels=3,
                     base_channels=2),
                dict(type='InstanceFeatureEncoder', base_channels=2,
                     num_downsamples=1)]:
        assert isinstance(MODELS.build(cfg), nn.Module)


def _check_image_output(model, in_channels, size=ODD_SIZE, batch=2):
    x = torch.randn(batch, in_channels, *size, requires_grad=True)
    out = model(x)
    assert out.shape == (batch, 3, *size)
    assert out.min() >= -1 and out.max() <= 1
    out.mean().backward()  # also catches in-place autograd errors
    assert x.grad is not None and torch.isfinite(x.grad).all()
    return out


@pytest.mark.parametrize('size', [ODD_SIZE, (3, 5), (64, 32)])
def test_global_generator_any_size(size):
    torch.manual_seed(0)
    model = GlobalGenerator(5, base_channels=4, num_downsamples=3, num_blocks=2)
    _check_image_output(model, 5, size)
    features = model.forward_features(torch.randn(1, 5, *size))
    assert features.shape == (1, 4, *size)
    trunk = GlobalGenerator(5, base_channels=4, num_downsamples=3,
                            num_blocks=1, with_head=False)
    assert trunk.head is None
    assert trunk(torch.randn(1, 5, *size)).shape == (1, 4, *size)


@pytest.mark.parametrize('num_enhancers', [1, 2])
def test_local_enhancer_any_size(num_enhancers):
    torch.manual_seed(0)
    model = LocalEnhancer(5, base_channels=2, num_enhancers=num_enhancers,
                          num_blocks=1,
                          global_cfg=dict(num_downsamples=2, num_blocks=1))
    assert model.size_multiple == 2**(2 + num_enhancers)
    _check_image_output(model, 5)
    # Gradients reach the global generator through the feature sum.
    assert model.global_generator.stem.conv.weight.grad is not None
    assert model.forward_features(torch.randn(1, 5, *ODD_SIZE)).shape == \
        (1, 2, *ODD_SIZE)


def test_unet_generator_any_size():
    torch.manual_seed(0)
    model = UnetGenerator(4, base_channels=2, num_downs=8)
    num_dropouts = sum(isinstance(m, nn.Dropout) for m in model.modules())
    assert num_dropouts == 3  # levels 4, 5, 6 of 8, as in pix2pix
    _check_image_output(model, 4)
    model.eval()
    x = torch.randn(1, 4, *ODD_SIZE)
    torch.testing.assert_close(model(x), model(x))  # no dropout in eval


def test_instance_feature_encoder():
    torch.manual_seed(0)
    model = InstanceFeatureEncoder(base_channels=4, num_downsamples=2)
    img = torch.randn(2, 3, *ODD_SIZE, requires_grad=True)
    inst = torch.zeros(2, *ODD_SIZE, dtype=torch.long)
    inst[:, 10:30, 5:40] = 26001
    inst[1, :5] = 7
    features = model(img, inst)
    assert features.shape == (2, 3, *ODD_SIZE)
    assert features.min() >= -1 and features.max() <= 1
    for b in range(2):
        for i in inst[b].unique():
            region = features[b][:, inst[b] == i]
            assert torch.allclose(region, region[:, :1].expand_as(region))
    features.sum().backward()
    assert img.grad is not None


def test_generator_init_statistics():
    torch.manual_seed(0)
    model = GlobalGenerator(8, base_channels=16, num_downsamples=2, num_blocks=2)
    weights = torch.cat([m.weight.flatten() for m in model.modules()
                         if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))])
    biases = torch.cat([m.bias for m in model.modules()
                        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))])
    assert abs(weights.std().item() - 0.02) < 0.001
    assert abs(weights.mean().item()) < 0.001
    assert torch.count_nonzero(biases) == 0


def _patch_sizes(size, num_layers, kernel_size, padding):
    sizes = []
    for i in range(num_layers + 2):
        stride = 2 if i < num_layers else 1
        size = (size + 2 * padding - kernel_size) // stride + 1
        sizes.append(size)
    return sizes


@pytest.mark.parametrize('padding', [2, 1])
def test_nlayer_discriminator_features(padding):
    torch.manual_seed(0)
    model = NLayerDiscriminator(5, base_channels=4, num_layers=3,
                                max_channels=16, padding=padding)
    scales = model(torch.randn(2, 5, 64, 48))
    assert len(scales) == 1   # one scale, as the losses read it
    outputs = scales[0]
    assert len(outputs) == 5
    assert [o.size(1) for o in outputs] == [4, 8, 16, 16, 1]
    heights = _patch_sizes(64, 3, 4, padding)
    widths = _patch_sizes(48, 3, 4, padding)
    assert [tuple(o.shape[-2:]) for o in outputs] == list(zip(heights, widths))


def test_single_patch_discriminator_feeds_the_losses_its_prediction():
    """Used on its own (pix2pix's PatchGAN), the GAN loss sees its
    prediction map alone, not its features."""
    import torch.nn.functional as F

    from gentk.models.losses import GANLoss
    model = NLayerDiscriminator(5, base_channels=4, num_layers=2)
    out = model(torch.randn(2, 5, 32, 32))
    pred = out[0][-1]
    expected = F.binary_cross_entropy_with_logits(pred, torch.ones_like(pred))
    got = GANLoss('vanilla')(out, True)
    assert got.item() == pytest.approx(expected.item(), rel=1e-6)


def test_discriminator_instance_norm_has_no_parameters():
    model = NLayerDiscriminator(39)
    norms = [m for m in model.modules() if isinstance(m, nn.InstanceNorm2d)]
    assert len(norms) == 3  # none on the first block
    assert all(len(list(m.parameters())) == 0 for m in norms)
    assert all(len(list(m.buffers())) == 0 for m in norms)
    conv_params = sum(num_params(m) for m in model.modules()
                      if isinstance(m, nn.Conv2d))
    assert conv_params == num_params(model)
    bn = NLayerDiscriminator(6, padding=1, norm_cfg=dict(type='BN'))
    assert bn.blocks[1].conv.bias is None  # pix2pix: no bias before BN


def test_multiscale_discriminator_scales():
    torch.manual_seed(0)
    model = MultiScaleDiscriminator(5, num_scales=3, base_channels=4,
                                    num_layers=2)
    assert len(model.discriminators) == 3
    x = torch.randn(2, 5, 64, 96, requires_grad=True)
    outputs = model(x)
    assert len(outputs) == 3 and all(len(o) == 4 for o in outputs)
    pooled = x
    for scale, per_scale in enumerate(outputs):
        if scale:
            pooled = nn.functional.avg_pool2d(pooled, 3, 2, 1,
                                              count_include_pad=False)
        assert pooled.shape[-2:] == (64 >> scale, 96 >> scale)
        torch.testing.assert_close(per_scale[-1],
                                   model.discriminators[scale](pooled)[0][-1])
    sum(o[-1].mean() for o in outputs).backward()
    assert all(d.classifier.weight.grad is not None for d in model.discriminators)
