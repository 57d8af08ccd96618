"""The procedural street dataset: renderer, dataset contract and disk writer."""
import importlib.util
import os
import os.path as osp
import pickle
from functools import lru_cache

import cv2
import numpy as np
import pytest

from gentk.datasets.cityscapes_labels import (LABEL_ID, LABEL_ID_PALETTE,
                                              LABELS)
from gentk.datasets.synthetic_streets import (SyntheticStreetDataset,
                                              render_street_scene, sample_seed)
from gentk.datasets.synthetic_streets import dataset as dataset_module
from gentk.registry import DATASETS

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
ROAD, SKY, BUILDING = LABEL_ID['road'], LABEL_ID['sky'], LABEL_ID['building']
VEGETATION, SIDEWALK = LABEL_ID['vegetation'], LABEL_ID['sidewalk']
CAR, PERSON = LABEL_ID['car'], LABEL_ID['person']
THING_IDS = [label.id for label in LABELS if label.has_instances]
CONTRACT_KEYS = ('img', 'gt_label', 'gt_inst', 'img_path', 'label_path',
                 'inst_path', 'img_shape', 'ori_shape', 'sample_idx')
SEEDS = range(16)


@lru_cache(maxsize=None)
def scene(seed: int, height: int = 128, width: int = 256) -> dict:
    return render_street_scene(seed, height, width)


def touching_pairs(inst: np.ndarray, label_id: int) -> bool:
    """Whether two different instances of ``label_id`` are 4-adjacent."""
    def touch(a, b):
        return ((a // 1000 == label_id) & (b // 1000 == label_id) &
                (a >= 1000) & (b >= 1000) & (a != b)).any()
    return touch(inst[:, 1:], inst[:, :-1]) or touch(inst[1:], inst[:-1])


def test_same_seed_same_scene_other_seed_other_scene():
    first, again = render_street_scene(3, 64, 128), render_street_scene(3, 64, 128)
    for key in ('img', 'label', 'inst'):
        np.testing.assert_array_equal(first[key], again[key])
    other = render_street_scene(4, 64, 128)
    assert (other['label'] != first['label']).mean() > 0.05
    assert np.abs(other['img'].astype(int) - first['img']).mean() > 10


@pytest.mark.parametrize('height,width', [(32, 64), (33, 67), (128, 256),
                                          (101, 45), (48, 48)])
def test_any_resolution(height, width):
    out = render_street_scene(7, height, width)
    assert out['img'].shape == (height, width, 3) and out['img'].dtype == np.uint8
    assert out['label'].shape == (height, width) and out['label'].dtype == np.uint8
    assert out['inst'].shape == (height, width) and out['inst'].dtype == np.int32


def test_scene_does_not_depend_on_resolution():
    small = scene(5)['label']
    large = scene(5, 256, 512)['label']
    # A 2x2 block of the large map straddles each small pixel's centre.
    agree = np.mean([(large[dy::2, dx::2] == small).mean()
                     for dy in (0, 1) for dx in (0, 1)])
    assert agree > 0.9


def test_label_ids_are_cityscapes_ids():
    valid = {label.id for label in LABELS}
    for seed in SEEDS:
        assert set(np.unique(scene(seed)['label']).tolist()) <= valid


def test_street_classes_present_in_most_scenes():
    present = {k: 0 for k in (ROAD, SIDEWALK, SKY, BUILDING, CAR, PERSON)}
    for seed in SEEDS:
        labels = set(np.unique(scene(seed)['label']).tolist())
        for k in present:
            present[k] += k in labels
    assert all(present[k] == len(SEEDS) for k in (ROAD, SKY, BUILDING, CAR))
    assert present[PERSON] >= 0.8 * len(SEEDS)
    assert present[SIDEWALK] >= 0.8 * len(SEEDS)


def test_car_instances_touch_in_most_scenes():
    touching = sum(touching_pairs(scene(seed)['inst'], CAR) for seed in SEEDS)
    assert touching >= 0.6 * len(SEEDS)


def test_instance_ids_follow_cityscapes():
    for seed in SEEDS[:8]:
        label, inst = scene(seed)['label'].astype(np.int64), scene(seed)['inst']
        things = np.isin(label, THING_IDS)
        np.testing.assert_array_equal(inst[things] // 1000, label[things])
        np.testing.assert_array_equal(inst[~things], label[~things])


def test_an_object_keeps_its_instance_id_at_every_size():
    """k is the object's index in the scene, so an object hidden at a small
    size shifts no other id: an id marks the same place at both sizes."""
    for seed in SEEDS:
        small, large = scene(seed, 32, 64)['inst'], scene(seed)['inst']
        shared = np.intersect1d(small[small >= 1000], large[large >= 1000])
        assert shared.size
        # The large render sampled near the small one's pixel centres.
        sampled = large[2::4, 2::4]
        for inst_id in shared:
            mask = small == inst_id
            if mask.sum() < 8:  # a few pixels: sampling decides
                continue
            agree = (sampled[mask] == inst_id).mean()
            assert agree > 0.5, (seed, inst_id, agree)


def class_pixels(seeds, classes):
    """RGB pixels (float) per class pooled over ``seeds``."""
    pixels = {k: [] for k in classes}
    for seed in seeds:
        out = scene(seed)
        for k in classes:
            pixels[k].append(out['img'][out['label'] == k].astype(np.float64))
    return {k: np.concatenate(v) for k, v in pixels.items()}


def test_photo_follows_the_labels():
    # Surfaces with one characteristic colour (buildings and cars vary by
    # design: facades and bodies get per-object colours).
    classes = (ROAD, SIDEWALK, VEGETATION, SKY)
    pixels = class_pixels(SEEDS[:8], classes)
    means = {k: v.mean(0) for k, v in pixels.items()}
    for a, b in ((ROAD, SKY), (ROAD, VEGETATION), (SKY, VEGETATION),
                 (ROAD, SIDEWALK)):
        assert np.linalg.norm(means[a] - means[b]) > 40, (a, b)
    # Same-class pixels are closer to each other than to other classes, so
    # a nearest class-mean colour classifier labels nearly every pixel.
    centres = np.stack([means[k] for k in classes])
    correct = total = 0
    for index, k in enumerate(classes):
        dist = np.linalg.norm(pixels[k][:, None, :] - centres[None], axis=2)
        correct += (dist.argmin(1) == index).sum()
        total += len(pixels[k])
        within = np.linalg.norm(pixels[k] - means[k], axis=1).mean()
        between = min(np.linalg.norm(means[k] - means[o]) for o in classes if o != k)
        assert within < between, k
    assert correct / total > 0.85


def test_adjacent_car_instances_are_outlined():
    # Where two cars meet, the photo is darker than inside either car.
    darker = []
    for seed in SEEDS:
        out = scene(seed)
        inst, img = out['inst'], out['img'].astype(np.float64).mean(2)
        meet = np.zeros(inst.shape, bool)
        pair = (inst[:, 1:] // 1000 == CAR) & (inst[:, :-1] // 1000 == CAR) & \
            (inst[:, 1:] != inst[:, :-1])
        meet[:, 1:] |= pair
        meet[:, :-1] |= pair
        if meet.sum() >= 4:
            darker.append(img[meet].mean() < img[(inst // 1000 == CAR) & ~meet].mean())
    assert darker and np.mean(darker) > 0.8


def test_dataset_contract(monkeypatch):
    calls = []
    render = dataset_module.render_street_scene
    monkeypatch.setattr(dataset_module, 'render_street_scene',
                        lambda *args: calls.append(args) or render(*args))
    dataset = DATASETS.build(dict(type='SyntheticStreetDataset', num_samples=5,
                                  height=40, width=72, seed=2, pipeline=[]))
    assert len(dataset) == 5 and not calls  # nothing rendered up front
    assert dataset.metainfo['classes'][ROAD] == 'road'
    assert tuple(dataset.metainfo['palette'][CAR]) == LABEL_ID_PALETTE[CAR]
    results = dataset[3]
    assert set(CONTRACT_KEYS) <= set(results)
    assert calls == [(sample_seed(2, 3), 40, 72)]
    assert results['img'].shape == (40, 72, 3) and results['img'].dtype == np.uint8
    assert results['gt_label'].dtype == results['gt_inst'].dtype == np.int64
    assert results['img_shape'] == results['ori_shape'] == (40, 72)
    assert results['sample_idx'] == 3
    assert results['img_path'].startswith('synthetic://')
    expected = render(sample_seed(2, 3), 40, 72)
    np.testing.assert_array_equal(results['img'], expected['img'])
    np.testing.assert_array_equal(results['gt_label'], expected['label'])
    # Picklable for DataLoader workers, and a copy renders the same sample.
    copy = pickle.loads(pickle.dumps(dataset))
    np.testing.assert_array_equal(copy[3]['img'], results['img'])


def test_dataset_train_ids_and_subsets():
    dataset = SyntheticStreetDataset(num_samples=6, height=32, width=64,
                                     use_train_ids=True, indices=[4])
    assert dataset.num_classes == 19 and dataset.metainfo['classes'][0] == 'road'
    results = dataset[0]
    values = set(np.unique(results['gt_label']).tolist())
    assert values <= set(range(19)) | {255} and 0 in values
    # A subset keeps rendering the original sample, not sample 0.
    full = SyntheticStreetDataset(num_samples=6, height=32, width=64)[4]
    np.testing.assert_array_equal(results['img'], full['img'])
    with pytest.raises(ValueError):
        SyntheticStreetDataset(num_classes=35, use_train_ids=True)


def load_make_dataset():
    spec = importlib.util.spec_from_file_location(
        'make_dataset', osp.join(REPO, 'tools', 'make_dataset.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_make_dataset_writes_cityscapes_layout(tmp_path):
    make_dataset = load_make_dataset()
    out = str(tmp_path / 'synthetic')
    assert make_dataset.main(['--out', out, '--num-train', '2', '--num-val', '1',
                              '--height', '36', '--width', '70', '--seed', '5']) == 0
    for split, seed, count in (('train', 5, 2), ('val', 6, 1)):
        for index in range(count):
            paths = make_dataset.cityscapes_paths(out, split, 'synth', index)
            assert paths['img'] == osp.join(
                out, 'leftImg8bit', split, 'synth',
                f'synth_{index:06d}_000019_leftImg8bit.png')
            expected = render_street_scene(sample_seed(seed, index), 36, 70)
            inst = cv2.imread(paths['inst'], cv2.IMREAD_UNCHANGED)
            assert inst.dtype == np.uint16  # 16-bit, as Cityscapes
            np.testing.assert_array_equal(inst, expected['inst'])
            label = cv2.imread(paths['label'], cv2.IMREAD_UNCHANGED)
            assert label.dtype == np.uint8 and label.ndim == 2
            np.testing.assert_array_equal(label, expected['label'])
            img = cv2.imread(paths['img'], cv2.IMREAD_COLOR)[..., ::-1]
            np.testing.assert_array_equal(img, expected['img'])
            color = cv2.imread(paths['color'], cv2.IMREAD_COLOR)[..., ::-1]
            palette = np.asarray(LABEL_ID_PALETTE, np.uint8)
            np.testing.assert_array_equal(color, palette[expected['label']])
    assert not osp.exists(osp.join(out, 'leftImg8bit', 'test'))


def test_written_dataset_reads_back_as_cityscapes(tmp_path):
    """Rendered in two processes, read by the real loader: the same samples
    as the in-memory dataset, in label ids and in train ids."""
    from gentk.datasets import CityscapesDataset
    from tiny_config import run_tool
    out = str(tmp_path / 'synthetic')
    run_tool(['tools/make_dataset.py', '--out', out, '--splits', 'val',
              '--num-val', '3', '--height', '20', '--width', '44', '--seed',
              '2', '--workers', '2'])
    pipeline = [dict(type='LoadPairedImages')]
    for train_ids in (False, True):
        disk = CityscapesDataset(data_root=out, split='val', pipeline=pipeline,
                                 use_train_ids=train_ids)
        memory = SyntheticStreetDataset(num_samples=3, height=20, width=44,
                                        seed=3, use_train_ids=train_ids)
        assert len(disk) == 3
        for index in range(3):
            got, expected = disk[index], memory[index]
            for key in ('img', 'gt_label', 'gt_inst'):
                np.testing.assert_array_equal(got[key], expected[key], key)


def test_make_dataset_refuses_to_mix_runs_and_bad_arguments(tmp_path, capsys):
    make_dataset = load_make_dataset()
    out = str(tmp_path / 'synthetic')
    first = ['--out', out, '--splits', 'val', '--num-val', '3',
             '--height', '12', '--width', '24']
    assert make_dataset.main(first) == 0
    smaller = ['--out', out, '--splits', 'val', '--num-val', '1',
               '--height', '10', '--width', '20']
    with pytest.raises(FileExistsError, match='--overwrite'):
        make_dataset.main(smaller)
    assert make_dataset.main(smaller + ['--overwrite']) == 0
    written = sorted(os.listdir(osp.join(out, 'leftImg8bit', 'val', 'synth')))
    assert written == ['synth_000000_000019_leftImg8bit.png']
    for bad, message in ((['--seed', '-1'], '--seed must be >= 0'),
                         (['--num-val', '0'], '--num-val must be >= 1')):
        with pytest.raises(SystemExit) as info:
            make_dataset.parse_args(['--out', out, '--splits', 'val'] + bad)
        assert info.value.code == 2
        assert message in capsys.readouterr().err


@pytest.mark.parametrize('key, value', [('height', 64.0), ('width', 0),
                                        ('num_samples', 2.0), ('seed', -1),
                                        ('seed', True)])
def test_dataset_arguments_must_be_ints(key, value):
    with pytest.raises(ValueError, match=f'{key} must be an int'):
        SyntheticStreetDataset(**{key: value})


def test_make_dataset_ends_on_an_occupied_split_with_its_message(tmp_path):
    from tiny_config import run_tool
    folder = tmp_path / 'out' / 'gtFine' / 'val' / 'synth'
    folder.mkdir(parents=True)
    (folder / 'old.png').write_bytes(b'')
    proc = run_tool(['tools/make_dataset.py', '--out', str(tmp_path / 'out'),
                     '--splits', 'val', '--num-val', '1'], check=False)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert f'{folder} already holds samples' in proc.stderr
    assert 'Traceback' not in proc.stderr


def test_a_triangular_sign_keeps_its_apex():
    """The apex stands 0.05 m above the plate's nominal top (the post's
    height): the sign's pixels reach the row of that point."""
    from gentk.datasets.synthetic_streets.camera import Camera, Rays
    from gentk.datasets.synthetic_streets.canvas import Canvas
    from gentk.datasets.synthetic_streets.paint_furniture import paint_sign
    from gentk.datasets.synthetic_streets.scene import Lighting, Sign
    rays = Rays(Camera(focal=1.0, horizon=0.5, centre=0.5, height_m=1.5),
                512, 512)
    light = Lighting(sun_x=0.0, front=1.0, exposure=1.0, tint=np.ones(3),
                     gradient=0.0, haze_m=1e3, zenith=np.ones(3),
                     horizon=np.ones(3), cloudiness=0.0)
    sign = Sign(x=0.0, z=3.0, height=2.5, shape='triangle',
                colour=np.array([0.1, 0.2, 0.6]))
    canvas = Canvas(512, 512)
    paint_sign(canvas, rays, sign, light)
    rows = np.nonzero((canvas.label == LABEL_ID['traffic sign']).any(1))[0]
    apex_row = rays.cy - rays.focal * (sign.height + 0.052 - 1.5) / sign.z
    assert rows.min() <= apex_row + 1
