"""Domain FID: with identity and linear extractors on Gaussian data it equals
the closed-form Fréchet distance; layer taps, weights and ranks."""
import numpy as np
import pytest
import scipy.linalg
import torch
from torch import nn

from gentk.evaluation.domain_fid import (DomainFrechetDistance,
                                         build_feature_extractor,
                                         pooled_features)


def closed_form(mu1, cov1, mu2, cov2):
    root = scipy.linalg.sqrtm(cov1 @ cov2).real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(cov1 + cov2 - 2 * root))


def gaussian_images(n, mean, scale, generator, size=4):
    """Flat images whose colour is N(mean, scale scale^T): global average
    pooling gives the Gaussian vector back exactly. Small enough to stay in
    [-1, 1]."""
    z = torch.randn(n, 3, generator=generator, dtype=torch.float64)
    colours = torch.tensor(mean, dtype=torch.float64) + z @ torch.tensor(
        scale, dtype=torch.float64).T
    assert colours.abs().max() < 1
    return colours.float()[:, :, None, None].expand(n, 3, size, size), colours


def run(metric, fake, real, batch=64):
    for i in range(0, len(fake), batch):
        metric.process(None, [{'fake_img': f, 'gt_img': r} for f, r in
                              zip(fake[i:i + batch], real[i:i + batch])])
    return metric.evaluate(len(fake))['DomainFID/fid']


def sample_stats(x):
    x = np.asarray(x, dtype=np.float64)
    return x.mean(axis=0), np.cov(x, rowvar=False)


MEAN_FAKE, SCALE_FAKE = [0.1, -0.2, 0.0], [[0.10, 0, 0], [0.03, 0.08, 0],
                                           [0, 0.02, 0.05]]
MEAN_REAL, SCALE_REAL = [0.0, 0.0, 0.1], [[0.06, 0, 0], [0, 0.1, 0],
                                          [0.01, 0, 0.07]]


def test_identity_extractor_equals_the_closed_form():
    g = torch.Generator().manual_seed(0)
    fake, fake_x = gaussian_images(3000, MEAN_FAKE, SCALE_FAKE, g)
    real, real_x = gaussian_images(3000, MEAN_REAL, SCALE_REAL, g)
    metric = DomainFrechetDistance(nn.Identity(), quantize=False)
    fid = run(metric, fake, real)
    # exact on the samples' statistics
    expected = closed_form(*sample_stats(fake_x.float()),
                           *sample_stats(real_x.float()))
    assert fid == pytest.approx(expected, rel=1e-6)
    # and close to the population value
    s1, s2 = np.array(SCALE_FAKE), np.array(SCALE_REAL)
    population = closed_form(np.array(MEAN_FAKE), s1 @ s1.T,
                             np.array(MEAN_REAL), s2 @ s2.T)
    assert fid == pytest.approx(population, rel=0.05)
    assert run(metric, fake, fake) == pytest.approx(0, abs=1e-12)


def test_linear_extractor_transforms_the_gaussians():
    g = torch.Generator().manual_seed(1)
    fake, fake_x = gaussian_images(500, MEAN_FAKE, SCALE_FAKE, g)
    real, real_x = gaussian_images(500, MEAN_REAL, SCALE_REAL, g)
    linear = nn.Conv2d(3, 5, 1)   # a 1x1 conv: features A x + b
    a = linear.weight.detach()[:, :, 0, 0].double().numpy()
    metric = DomainFrechetDistance(linear, quantize=False)
    mu1, cov1 = sample_stats(fake_x.float())
    mu2, cov2 = sample_stats(real_x.float())
    expected = closed_form(a @ mu1, a @ cov1 @ a.T, a @ mu2, a @ cov2 @ a.T)
    assert run(metric, fake, real) == pytest.approx(expected, rel=1e-5)


class TwoStages(nn.Module):
    """A backbone returning a tuple of stage outputs, like ResNetV1c."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 4, 3, padding=1)
        self.stage = nn.Sequential(nn.ReLU(), nn.Conv2d(4, 6, 3, stride=2))
        self.calls = 0

    def forward(self, x):
        first = self.stem(x)
        self.calls += 1
        return first, self.stage(first)


def test_feature_layer_choices():
    net = TwoStages()
    x = torch.randn(2, 3, 8, 8)
    stem, stage = net(x)
    torch.testing.assert_close(pooled_features(net, x), stage.mean((2, 3)))
    torch.testing.assert_close(pooled_features(net, x, 0), stem.mean((2, 3)))
    net.calls = 0
    # a tapped layer stops the forward right after it
    torch.testing.assert_close(pooled_features(net, x, 'stem'),
                               stem.mean((2, 3)))
    assert net.calls == 0
    torch.testing.assert_close(pooled_features(net, x, 'stage.0'),
                               torch.relu(stem).mean((2, 3)))
    torch.testing.assert_close(
        pooled_features(net, x, lambda m, img: m.stem(img)[:, :2]),
        stem[:, :2].mean((2, 3)))


def test_checkpoint_prefix_loads_a_backbone_from_a_whole_model(tmp_path):
    whole = nn.ModuleDict({'backbone': TwoStages(), 'head': nn.Linear(6, 2)})
    torch.save({'meta': {}, 'state_dict': whole.state_dict()},
               tmp_path / 'model.pth')
    backbone = build_feature_extractor(TwoStages(), str(tmp_path / 'model.pth'),
                                       checkpoint_prefix='backbone.')
    for key, value in whole['backbone'].state_dict().items():
        torch.testing.assert_close(backbone.state_dict()[key], value)
    assert not backbone.training
    assert build_feature_extractor(whole, submodule='backbone') \
        is whole['backbone']


def test_preprocessing_quantises_resizes_and_normalises():
    metric = DomainFrechetDistance(nn.Identity(), resize=(4, 4),
                                   mean=(127.5, 127.5, 127.5),
                                   std=(127.5, 127.5, 127.5))
    img = torch.full((1, 3, 8, 8), 0.3)
    out = metric.preprocess(img)
    assert out.shape == (1, 3, 4, 4)
    # 0.3 -> 8-bit level 166 -> normalised (166 - 127.5) / 127.5
    assert torch.allclose(out, torch.tensor((166 - 127.5) / 127.5))


def test_ranks_merge_into_the_single_pass_value():
    g = torch.Generator().manual_seed(2)
    fake, _ = gaussian_images(60, MEAN_FAKE, SCALE_FAKE, g)
    real, _ = gaussian_images(60, MEAN_REAL, SCALE_REAL, g)
    single = run(DomainFrechetDistance(nn.Identity()), fake, real)
    ranks = [DomainFrechetDistance(nn.Identity()) for _ in range(2)]
    for rank, part in zip(ranks, (slice(0, 25), slice(25, 60))):
        rank.process(None, [{'fake_img': f, 'gt_img': r}
                            for f, r in zip(fake[part], real[part])])
    merged = ranks[0].compute_metrics(ranks[0].results + ranks[1].results)
    assert merged['fid'] == pytest.approx(single, rel=1e-9)


def test_needs_real_images():
    metric = DomainFrechetDistance(nn.Identity())
    with pytest.raises(KeyError, match='gt_img'):
        metric.process(None, [{'fake_img': torch.zeros(3, 4, 4)}])
