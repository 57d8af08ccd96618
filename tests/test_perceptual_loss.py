"""VGG19 features (torchvision's key layout) and the perceptual loss:
layout, values against a direct computation, weight-file errors."""
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from gentk.models.losses import PerceptualLoss, VGG19FeatureExtractor
from gentk.models.losses.vgg19 import build_vgg19_features

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
    truncated = {k: tuple(v.shape) for k, v in
                 extractor.features.state_dict(prefix='features.').items()}
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
    # mean / std are constants and the trunk comes from its file: nothing of
    # the loss lands in checkpoints.
    assert loss.state_dict() == {}


def test_checkpoints_leave_the_trunk_out_and_still_load(vgg_state, vgg_path):
    """A model with a perceptual loss writes no VGG weights (~80 MB at full
    depth); its state dict loads strictly into a fresh model, whose trunk
    stays the one loaded from the file, and so does an older state dict
    that carries the trunk."""
    from mmengine.runner.checkpoint import get_state_dict, load_state_dict

    def model():
        return nn.ModuleDict({'head': nn.Conv2d(3, 3, 1),
                              'perceptual': PerceptualLoss(vgg_path)})

    source = model()
    for state in (source.state_dict(), get_state_dict(source)):
        assert set(state) == {'head.weight', 'head.bias'}

    target = model()
    target.load_state_dict(source.state_dict(), strict=True)
    load_state_dict(target, get_state_dict(source), strict=True)
    trunk = target['perceptual'].vgg.features
    assert torch.equal(trunk[0].weight, vgg_state['features.0.weight'])

    older = dict(source.state_dict())
    older.update({f'perceptual.vgg.{k}': v.clone() + 1
                  for k, v in source['perceptual'].vgg.features
                  .state_dict(prefix='features.').items()})
    target.load_state_dict(older, strict=True)
    assert torch.equal(trunk[0].weight, vgg_state['features.0.weight'] + 1)


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
    with pytest.raises(ValueError, match='weights_only=True'):
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


def test_resume_check_accepts_checkpoints_with_or_without_the_trunk(vgg_path):
    from gentk.engine.checkpoint_state import check_training_checkpoint
    model = nn.ModuleDict({'head': nn.Conv2d(3, 3, 1),
                           'perceptual': PerceptualLoss(vgg_path)})
    state = dict(model.state_dict())
    trunk = {f'perceptual.vgg.{k}': v for k, v in model['perceptual'].vgg
             .features.state_dict(prefix='features.').items()}

    def check(saved):
        check_training_checkpoint(
            model, dict(meta={}, optimizer={}, state_dict=saved), [], 'ckpt.pth')

    check(state)
    check({**state, **trunk})
    with pytest.raises(ValueError, match='unexpected perceptual.vgg.extra'):
        check({**state, 'perceptual.vgg.extra': torch.zeros(1)})
