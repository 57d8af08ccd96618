"""Losses against hand computations on small fixed tensors."""
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from gentk.models.losses import (FeatureMatchingLoss, GANLoss, GradientPenaltyLoss,
                                 L1Loss, PerceptualLoss, VGG19FeatureExtractor)
from gentk.models.losses.vgg19 import build_vgg19_features

# --------------------------------------------------------------------------
# GANLoss

# Values -1, 0.5, 2, 0: mean 0.375.
PRED = torch.tensor([[-1.0, 0.5], [2.0, 0.0]])
VALUES = (-1.0, 0.5, 2.0, 0.0)


def _softplus(x):
    return math.log1p(math.exp(x))


# (gan_type, target_is_real, is_disc, expected)
GAN_CASES = [
    # BCE with logits: -log(sigmoid(x)) = softplus(-x),
    # -log(1 - sigmoid(x)) = softplus(x)
    ('vanilla', True, True, sum(_softplus(-v) for v in VALUES) / 4),
    ('vanilla', False, True, sum(_softplus(v) for v in VALUES) / 4),
    ('vanilla', True, False, sum(_softplus(-v) for v in VALUES) / 4),
    # (x - 1)^2: 4, 0.25, 1, 1 -> 6.25 / 4;  x^2: 1, 0.25, 4, 0 -> 5.25 / 4
    ('lsgan', True, True, 1.5625),
    ('lsgan', False, True, 1.3125),
    ('lsgan', True, False, 1.5625),
    ('wgan', True, True, -0.375),
    ('wgan', False, True, 0.375),
    ('wgan', True, False, -0.375),
    # relu(1 - x): 2, 0.5, 0, 1 -> 3.5 / 4;  relu(1 + x): 0, 1.5, 3, 1 -> 5.5 / 4
    ('hinge', True, True, 0.875),
    ('hinge', False, True, 1.375),
    ('hinge', True, False, -0.375),
]


@pytest.mark.parametrize('gan_type,target_is_real,is_disc,expected', GAN_CASES)
def test_gan_loss_matches_hand_computation(gan_type, target_is_real, is_disc, expected):
    loss = GANLoss(gan_type)
    value = loss(PRED, target_is_real, is_disc=is_disc)
    assert value.shape == ()
    assert value.item() == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize('gan_type', ['vanilla', 'lsgan', 'wgan', 'hinge'])
@pytest.mark.parametrize('is_disc', [True, False])
def test_gan_loss_weight_applies_on_both_sides(gan_type, is_disc):
    plain = GANLoss(gan_type)(PRED, True, is_disc=is_disc)
    weighted = GANLoss(gan_type, loss_weight=2.5)(PRED, True, is_disc=is_disc)
    assert weighted.item() == pytest.approx(2.5 * plain.item(), rel=1e-6)


def test_gan_loss_custom_labels():
    loss = GANLoss('lsgan', real_label=0.9, fake_label=0.1)
    assert loss(PRED, True).item() == pytest.approx(
        sum((v - 0.9) ** 2 for v in VALUES) / 4, rel=1e-6)
    assert loss(PRED, False).item() == pytest.approx(
        sum((v - 0.1) ** 2 for v in VALUES) / 4, rel=1e-6)


def test_gan_loss_hinge_generator_refuses_fake_target():
    with pytest.raises(ValueError, match='target_is_real=True'):
        GANLoss('hinge')(PRED, False, is_disc=False)


def test_gan_loss_unknown_type():
    with pytest.raises(ValueError, match='unknown gan_type'):
        GANLoss('relativistic')


def test_gan_loss_name_and_registry():
    from gentk.registry import MODELS
    loss = MODELS.build(dict(type='GANLoss', gan_type='hinge'))
    assert isinstance(loss, GANLoss) and loss.loss_name == 'loss_gan'
    assert GANLoss(loss_name='loss_gan_aux').loss_name == 'loss_gan_aux'
    with pytest.raises(ValueError, match="start with 'loss_'"):
        GANLoss(loss_name='gan')


@pytest.mark.parametrize('gan_type', ['vanilla', 'lsgan', 'wgan', 'hinge'])
def test_gan_loss_sums_over_scales(gan_type):
    torch.manual_seed(0)
    preds = [torch.randn(2, 1, 8, 8), torch.randn(2, 1, 4, 4), torch.randn(2, 1, 2, 2)]
    loss = GANLoss(gan_type)
    expected = sum(loss(p, True, is_disc=True) for p in preds)
    feature = torch.randn(2, 4, 3, 3)  # ignored: only the last entry is a prediction
    nested = [[feature, feature, p] for p in preds]
    for output in (nested, preds):
        value = loss(output, True, is_disc=True)
        assert value.item() == pytest.approx(expected.item(), rel=1e-6)


def test_gan_loss_rejects_malformed_output():
    with pytest.raises(TypeError):
        GANLoss()([], True)
    with pytest.raises(TypeError):
        GANLoss()([['not a tensor']], True)


def test_gan_loss_gradient_reaches_prediction():
    pred = PRED.clone().requires_grad_(True)
    GANLoss('lsgan')(pred, True).backward()
    # d/dx mean((x - 1)^2) = 2 (x - 1) / 4
    assert torch.allclose(pred.grad, (PRED - 1) / 2)


# --------------------------------------------------------------------------
# FeatureMatchingLoss

def _nested_outputs(num_scales, num_features, requires_grad, seed):
    gen = torch.Generator().manual_seed(seed)
    outputs = []
    for scale in range(num_scales):
        size = 8 // 2 ** scale
        scale_out = [torch.randn(2, 4 * (i + 1), size, size, generator=gen)
                     for i in range(num_features)]
        scale_out.append(torch.randn(2, 1, size, size, generator=gen))  # prediction
        outputs.append([t.requires_grad_(requires_grad) for t in scale_out])
    return outputs


def test_feature_matching_pix2pixhd_weights():
    # pix2pixHD default: 2 scales x (n_layers_D + 1 = 4 features + prediction).
    fake = _nested_outputs(2, 4, requires_grad=True, seed=1)
    real = _nested_outputs(2, 4, requires_grad=True, seed=2)
    value = FeatureMatchingLoss(loss_weight=10.0)(fake, real)

    d_weight = 1.0 / 2          # 1 / num_D
    feat_weight = 4.0 / (3 + 1)  # 4 / (n_layers_D + 1) with n_layers_D = 3
    expected = 0.0
    for scale in range(2):
        for layer in range(4):  # the prediction (index 4) is not matched
            diff = (fake[scale][layer] - real[scale][layer]).abs().mean().item()
            expected += d_weight * feat_weight * diff * 10.0
    assert value.item() == pytest.approx(expected, rel=1e-6)

    value.backward()
    assert all(real[s][i].grad is None for s in range(2) for i in range(5))
    assert all(fake[s][i].grad is not None for s in range(2) for i in range(4))
    assert all(fake[s][4].grad is None for s in range(2))


def test_feature_matching_layer_weight_follows_feature_count():
    # 3 scales x 2 features: each layer weighs 4 / 2 * 1 / 3.
    fake = _nested_outputs(3, 2, requires_grad=False, seed=3)
    real = _nested_outputs(3, 2, requires_grad=False, seed=4)
    value = FeatureMatchingLoss(loss_weight=1.0)(fake, real)
    expected = sum((4 / 2) * (1 / 3) * (fake[s][i] - real[s][i]).abs().mean().item()
                   for s in range(3) for i in range(2))
    assert value.item() == pytest.approx(expected, rel=1e-6)
    assert FeatureMatchingLoss().loss_name == 'loss_feat'


def test_feature_matching_rejects_mismatched_or_flat_inputs():
    loss = FeatureMatchingLoss()
    fake = _nested_outputs(2, 4, requires_grad=False, seed=5)
    with pytest.raises(ValueError, match='scales'):
        loss(fake, fake[:1])
    with pytest.raises(ValueError, match='intermediate features'):
        loss(fake, [fake[0], fake[1][1:]])
    with pytest.raises(TypeError, match='wrap'):
        loss(fake[0], fake[0])  # a single scale must be wrapped in a list


# --------------------------------------------------------------------------
# VGG19 and PerceptualLoss

# torchvision's vgg19 "features": conv 3x3 (+ ReLU) per number, max-pool per 'M'.
CHANNEL_PLAN = [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 256, 'M',
                512, 512, 512, 512, 'M', 512, 512, 512, 512, 'M']
CONV_INDICES = [0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34]
RELU_X_1 = (1, 6, 11, 20, 29)  # relu1_1 ... relu5_1


def torchvision_vgg19_feature_shapes():
    shapes, index, in_channels = {}, 0, 3
    for entry in CHANNEL_PLAN:
        if entry == 'M':
            index += 1
            continue
        shapes[f'features.{index}.weight'] = (entry, in_channels, 3, 3)
        shapes[f'features.{index}.bias'] = (entry,)
        in_channels = entry
        index += 2
    return shapes


def test_expected_layout_is_torchvision_vgg19():
    shapes = torchvision_vgg19_feature_shapes()
    assert sorted({int(k.split('.')[1]) for k in shapes}) == CONV_INDICES
    assert shapes['features.0.weight'] == (64, 3, 3, 3)
    assert shapes['features.34.weight'] == (512, 512, 3, 3)
    assert sum(math.prod(s) for s in shapes.values()) == 20024384


def test_vgg19_key_layout_matches_torchvision():
    full = build_vgg19_features()
    assert len(full) == 37
    got = {f'features.{k}': tuple(v.shape) for k, v in full.state_dict().items()}
    assert got == torchvision_vgg19_feature_shapes()

    extractor = VGG19FeatureExtractor()
    truncated = {k: tuple(v.shape) for k, v in extractor.state_dict().items()}
    expected = {k: s for k, s in torchvision_vgg19_feature_shapes().items()
                if int(k.split('.')[1]) <= 29}
    assert truncated == expected
    assert len(extractor.features) == 30  # cut right after relu5_1


@pytest.fixture(scope='module')
def vgg_state():
    """A random VGG19 state_dict in torchvision's key layout."""
    gen = torch.Generator().manual_seed(0)
    state = {}
    for key, shape in torchvision_vgg19_feature_shapes().items():
        if key.endswith('weight'):
            fan_in = shape[1] * 9
            state[key] = torch.randn(shape, generator=gen) * math.sqrt(2 / fan_in)
        else:
            state[key] = torch.randn(shape, generator=gen) * 0.01
    # torchvision also stores a classifier (4096 x 25088, ...); it must be
    # ignored, so small stand-ins keep the test file light.
    for i in (0, 3, 6):
        state[f'classifier.{i}.weight'] = torch.zeros(4, 4)
        state[f'classifier.{i}.bias'] = torch.zeros(4)
    return state


@pytest.fixture(scope='module')
def vgg_path(vgg_state, tmp_path_factory):
    path = tmp_path_factory.mktemp('vgg') / 'vgg19.pth'
    torch.save(vgg_state, path)
    return str(path)


def reference_vgg_activations(state, x, indices):
    """Run the VGG19 plan functionally from the state_dict, no gentk code."""
    outputs, index = {}, 0
    for entry in CHANNEL_PLAN:
        if entry == 'M':
            x = F.max_pool2d(x, 2, 2)
            outputs[index] = x
            index += 1
            continue
        x = F.conv2d(x, state[f'features.{index}.weight'],
                     state[f'features.{index}.bias'], padding=1)
        outputs[index] = x
        x = F.relu(x)
        outputs[index + 1] = x
        index += 2
    return [outputs[i] for i in indices]


def images(seed):
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(2, 3, 32, 32, generator=gen) * 2 - 1


def test_extractor_taps_the_requested_layers(vgg_state, vgg_path):
    x = images(0)
    for indices in (RELU_X_1, (0, 3, 8)):
        extractor = VGG19FeatureExtractor(indices, weights_path=vgg_path)
        got = extractor(x)
        expected = reference_vgg_activations(vgg_state, x, indices)
        assert len(got) == len(indices)
        for g, e in zip(got, expected):
            assert g.shape == e.shape
            assert torch.allclose(g, e, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize('normalize_input', [True, False])
def test_perceptual_loss_value(vgg_state, vgg_path, normalize_input):
    fake, real = images(1), images(2)
    loss = PerceptualLoss(vgg_path, normalize_input=normalize_input)
    value = loss(fake, real)

    def prepare(x):
        if not normalize_input:
            return x
        mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
        std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
        return ((x + 1) / 2 - mean) / std

    fake_feats = reference_vgg_activations(vgg_state, prepare(fake), RELU_X_1)
    real_feats = reference_vgg_activations(vgg_state, prepare(real), RELU_X_1)
    weights = (1 / 32, 1 / 16, 1 / 8, 1 / 4, 1.0)
    expected = 10.0 * sum(w * (f - r).abs().mean().item()
                          for w, f, r in zip(weights, fake_feats, real_feats))
    assert value.item() == pytest.approx(expected, rel=1e-4)
    assert loss.loss_name == 'loss_vgg'


def test_perceptual_loss_frozen_and_always_eval(vgg_path):
    loss = PerceptualLoss(vgg_path)
    assert all(not p.requires_grad for p in loss.parameters())
    parent = nn.ModuleDict({'perceptual': loss})
    parent.train()
    assert not loss.vgg.training
    assert all(not m.training for m in loss.vgg.modules())

    fake = images(3).requires_grad_(True)
    real = images(4).requires_grad_(True)
    loss(fake, real).backward()
    assert fake.grad is not None and fake.grad.abs().sum() > 0
    assert real.grad is None
    assert all(p.grad is None for p in loss.parameters())
    # mean / std are constants, not weights that would land in checkpoints.
    assert set(loss.state_dict()) == {f'vgg.{k}' for k in loss.vgg.state_dict()}


def test_perceptual_loss_missing_file_explains_how_to_disable(tmp_path):
    missing = str(tmp_path / 'nowhere' / 'vgg19.pth')
    with pytest.raises(FileNotFoundError) as info:
        PerceptualLoss(missing)
    message = str(info.value)
    assert missing in message
    assert 'perceptual_loss.weights_path' in message
    assert 'None' in message and 'remove' in message


class PickledPayload:
    """Not a tensor: a weights_only load must refuse to rebuild it."""
    rebuilt = []

    def __setstate__(self, state):
        PickledPayload.rebuilt.append(state)


def test_perceptual_loss_refuses_non_tensor_pickles(vgg_state, tmp_path):
    path = tmp_path / 'vgg19_with_object.pth'
    payload = dict(vgg_state)
    payload['extra'] = PickledPayload()
    torch.save(payload, path)
    with pytest.raises(RuntimeError, match='weights_only=True'):
        PerceptualLoss(str(path))
    assert PickledPayload.rebuilt == []


def test_vgg_weights_with_wrong_layout_are_refused(vgg_state, tmp_path):
    missing_layer = {k: v for k, v in vgg_state.items()
                     if not k.startswith('features.16.')}
    path = tmp_path / 'vgg16_like.pth'
    torch.save(missing_layer, path)
    with pytest.raises(KeyError, match='features.16.weight'):
        VGG19FeatureExtractor(weights_path=str(path))

    wrong_shape = dict(vgg_state)
    wrong_shape['features.0.weight'] = torch.zeros(64, 1, 3, 3)
    torch.save(wrong_shape, path)
    with pytest.raises(ValueError, match='features.0.weight'):
        VGG19FeatureExtractor(weights_path=str(path))


def test_perceptual_loss_layer_weights_must_match_layers(vgg_path):
    with pytest.raises(ValueError, match='layer_weights'):
        PerceptualLoss(vgg_path, layer_weights=(1.0, 1.0))


# --------------------------------------------------------------------------
# L1Loss

def test_l1_loss():
    pred = torch.tensor([[1.0, -2.0], [0.5, 3.0]])
    target = torch.tensor([[0.0, 0.0], [0.5, 1.0]])  # |diff|: 1, 2, 0, 2
    assert L1Loss()(pred, target).item() == pytest.approx(1.25)
    assert L1Loss(loss_weight=100.0)(pred, target).item() == pytest.approx(125.0)
    assert L1Loss(reduction='sum')(pred, target).item() == pytest.approx(5.0)
    assert torch.equal(L1Loss(loss_weight=2.0, reduction='none')(pred, target),
                       torch.tensor([[2.0, 4.0], [0.0, 4.0]]))
    assert L1Loss().loss_name == 'loss_l1'
    with pytest.raises(ValueError, match='reduction'):
        L1Loss(reduction='max')


# --------------------------------------------------------------------------
# GradientPenaltyLoss

class LinearCritic(nn.Module):
    """D(x) = <w, x> per sample: its input gradient is w everywhere."""

    def __init__(self, weight):
        super().__init__()
        self.weight = nn.Parameter(weight.clone())

    def forward(self, x):
        return (x * self.weight).flatten(1).sum(1, keepdim=True)


def test_gradient_penalty_linear_discriminator():
    gen = torch.Generator().manual_seed(0)
    weight = torch.randn(1, 3, 4, 4, generator=gen) * 0.3
    critic = LinearCritic(weight)
    real = torch.randn(5, 3, 4, 4, generator=gen)
    fake = torch.randn(5, 3, 4, 4, generator=gen).requires_grad_(True)

    penalty = GradientPenaltyLoss(loss_weight=10.0)(critic, real, fake)
    norm = weight.norm().item()
    assert penalty.item() == pytest.approx(10.0 * (norm - 1) ** 2, rel=1e-5)

    # create_graph=True: the penalty trains D.
    # d/dw 10 (|w| - 1)^2 = 20 (|w| - 1) w / |w|
    penalty.backward()
    expected_grad = 20.0 * (norm - 1) * weight / norm
    assert torch.allclose(critic.weight.grad, expected_grad, atol=1e-5)
    assert fake.grad is None  # the generator gets nothing from the penalty
    assert GradientPenaltyLoss().loss_name == 'loss_gp'


def test_gradient_penalty_nested_multiscale_output():
    gen = torch.Generator().manual_seed(1)
    w1 = torch.randn(1, 3, 4, 4, generator=gen) * 0.2
    w2 = torch.randn(1, 3, 4, 4, generator=gen) * 0.2

    def discriminator(x):
        hidden = x * 2  # an intermediate feature: not part of the score
        return [[hidden, (x * w1).flatten(1).sum(1)],
                [hidden, (x * w2).flatten(1).sum(1)]]

    real = torch.randn(3, 3, 4, 4, generator=gen)
    fake = torch.randn(3, 3, 4, 4, generator=gen)
    penalty = GradientPenaltyLoss(loss_weight=1.0)(discriminator, real, fake)
    expected = ((w1 + w2).norm().item() - 1) ** 2
    assert penalty.item() == pytest.approx(expected, rel=1e-5)


def test_gradient_penalty_condition_is_concatenated_in_front():
    gen = torch.Generator().manual_seed(2)
    # 2 condition channels in front of 3 image channels.
    weight = torch.randn(1, 5, 4, 4, generator=gen) * 0.3
    critic = LinearCritic(weight)
    real = torch.randn(2, 3, 4, 4, generator=gen)
    fake = torch.randn(2, 3, 4, 4, generator=gen)
    condition = torch.randn(2, 2, 4, 4, generator=gen)
    penalty = GradientPenaltyLoss(loss_weight=1.0)(critic, real, fake, condition)
    image_norm = weight[:, 2:].norm().item()
    assert penalty.item() == pytest.approx((image_norm - 1) ** 2, rel=1e-5)


def test_gradient_penalty_interpolates_per_sample():
    # D(x) = sum(x^2): gradient 2 x_hat with x_hat = a * real + (1 - a) * fake.
    real = torch.randn(4, 2, 3, 3, dtype=torch.float64)
    fake = torch.randn(4, 2, 3, 3, dtype=torch.float64)
    torch.manual_seed(123)
    alpha = torch.rand(4, 1, 1, 1, dtype=torch.float64)
    mixed = alpha * real + (1 - alpha) * fake
    expected = ((2 * mixed).flatten(1).norm(dim=1) - 1).pow(2).mean()

    torch.manual_seed(123)
    penalty = GradientPenaltyLoss(loss_weight=1.0)(
        lambda x: x.pow(2).flatten(1).sum(1), real, fake)
    assert penalty.dtype == torch.float64
    assert penalty.item() == pytest.approx(expected.item(), rel=1e-9)
