"""Losses against hand computations on small fixed tensors."""
import math

import pytest
import torch
from torch import nn

from gentk.models.losses import (FeatureMatchingLoss, GANLoss,
                                 GradientPenaltyLoss, L1Loss)

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
