"""Instance feature clusters (pix2pixHD section 3.4): per-instance vectors,
per-class K-means and sampling."""
import numpy as np
import pytest
import torch

from gentk.models.encoders.feature_bank import (MIN_AREA, InstanceFeatureBank,
                                                per_instance_features)


def test_per_instance_features_are_means_classes_and_areas():
    inst = torch.tensor([[[7, 7, 26001, 26001],
                          [7, 7, 26001, 26002]],
                         [[7, 7, 7, 7],
                          [24000, 24000, 24000, 24000]]])
    features = torch.arange(2 * 2 * 8, dtype=torch.float32).reshape(2, 2, 2, 4)
    vectors, classes, areas = per_instance_features(features, inst)
    # Keys sort as (image, id): image 0: 7, 26001, 26002; image 1: 7, 24000.
    assert classes.tolist() == [7, 26, 26, 7, 24]
    torch.testing.assert_close(areas, torch.tensor([4, 3, 1, 4, 4]) / 8.0)
    expected = []
    for b, ids in ((0, (7, 26001, 26002)), (1, (7, 24000))):
        for i in ids:
            mask = inst[b] == i
            expected.append(features[b][:, mask].mean(1))
    torch.testing.assert_close(vectors, torch.stack(expected))


def test_min_area_is_the_official_threshold():
    # The official code keeps num / (h * w // 32) > 0.5, i.e. > h * w / 64.
    assert MIN_AREA == pytest.approx(1 / 64)


def _blobs(rng, centres, per_centre, spread=0.01):
    return np.concatenate([c + spread * rng.standard_normal((per_centre, len(c)))
                           for c in centres])


def test_fit_finds_each_class_centres():
    rng = np.random.default_rng(0)
    car = [np.array([0.0, 0.0]), np.array([5.0, 0.0]), np.array([0.0, 5.0])]
    person = [np.array([-3.0, -3.0])]
    points = np.concatenate([_blobs(rng, car, 20), _blobs(rng, person, 2, 0.0)])
    classes = torch.tensor([26] * 60 + [24] * 2)
    bank = InstanceFeatureBank.fit(torch.from_numpy(points).float(), classes,
                                   k=3)
    found = sorted(map(tuple, bank.centers[26].numpy().round(1)))
    assert found == [(0.0, 0.0), (0.0, 5.0), (5.0, 0.0)]
    # Fewer distinct features than k: those features are the centres.
    torch.testing.assert_close(bank.centers[24], torch.tensor([[-3.0, -3.0]]))


def test_fit_keeps_the_best_restart():
    rng = np.random.default_rng(1)
    points = torch.from_numpy(rng.standard_normal((200, 3))).float()
    classes = torch.zeros(200, dtype=torch.long)

    def cost(centres):
        d = torch.cdist(points.double(), centres.double())
        return float((d.min(1).values ** 2).sum())
    best = cost(InstanceFeatureBank.fit(points, classes, k=5, restarts=8)
                .centers[0])
    singles = [cost(InstanceFeatureBank.fit(points, classes, k=5, seed=s,
                                            restarts=1).centers[0])
               for s in range(8)]
    assert best == pytest.approx(min(singles))
    assert best < max(singles)


def test_sample_fills_each_instance_with_a_centre_of_its_class(tmp_path):
    bank = InstanceFeatureBank({26: torch.tensor([[1.0, 2.0], [3.0, 4.0]]),
                                7: torch.tensor([[9.0, 9.0]])})
    path = str(tmp_path / 'clusters.pth')
    bank.save(path)
    bank = InstanceFeatureBank.load(path)
    inst = torch.tensor([[[7, 7, 26001, 26001],
                          [24000, 24000, 26002, 26002]]])
    out = bank.sample(inst, torch.Generator().manual_seed(0))
    assert out.shape == (1, 2, 2, 4)
    torch.testing.assert_close(out[0, :, 0, 0], torch.tensor([9.0, 9.0]))
    assert (out[0, :, 1, :2] == 0).all()  # class 24 has no centres
    for rows, cols in (((0, 0), (2, 3)), ((1, 1), (2, 3))):
        vector = out[0, :, rows[0], cols[0]]
        assert (out[0, :, rows[0], cols[0]:cols[1] + 1] == vector[:, None]).all()
        assert any(torch.equal(vector, c) for c in bank.centers[26])


def test_sample_keeps_negative_ids_and_images_apart():
    """-1 ("no instance", e.g. crop padding) is a class of its own, in
    every image of a batch."""
    bank = InstanceFeatureBank({-1: torch.tensor([[-9.0]]),
                                5: torch.tensor([[5.0]]),
                                26: torch.tensor([[26.0]])})
    one = bank.sample(torch.tensor([[[-1, 7, 26001]]]))
    assert one.flatten().tolist() == [-9.0, 0.0, 26.0]
    batch = bank.sample(torch.tensor([[[5, 5]], [[-1, 0]]]))
    assert batch.flatten().tolist() == [5.0, 5.0, -9.0, 0.0]


def test_load_rejects_other_files(tmp_path):
    path = str(tmp_path / 'weights.pth')
    torch.save({'state_dict': {}}, path)
    with pytest.raises(ValueError, match='not a feature cluster file'):
        InstanceFeatureBank.load(path)


def test_kmeans_runs_to_convergence():
    """Each centre is the mean of the points nearest to it (a fixed point
    of Lloyd's steps), as with the official code's scikit-learn KMeans;
    ten steps leave these centres up to 0.06 away from it."""
    from scipy.cluster.vq import vq

    from gentk.models.encoders.feature_bank import _best_kmeans
    points = np.random.default_rng(0).normal(size=(2000, 3))
    centres = _best_kmeans(points, 10, seed=0, restarts=10)
    nearest, _ = vq(points, centres)
    means = np.stack([points[nearest == j].mean(0) for j in range(10)])
    np.testing.assert_allclose(means, centres, atol=1e-9)
