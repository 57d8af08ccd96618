"""CityscapesDataset and PairedFolderDataset on tiny fake trees in tmp_path."""
import os

import cv2
import numpy as np
import pytest
import torch

from gentk.datasets import CityscapesDataset, PairedFolderDataset
from gentk.datasets.cityscapes import instance_map_to_label_ids
from gentk.datasets.cityscapes_labels import (LABELS, NUM_LABEL_IDS,
                                              NUM_TRAIN_IDS, TRAIN_ID_NAMES)
from gentk.registry import DATASETS

HEIGHT, WIDTH = 19, 27  # odd on purpose

PIPELINE = [
    dict(type='LoadPairedImages'),
    dict(type='PairedRandomCrop', crop_size=(15, 21)),
    dict(type='PairedRandomFlip', prob=0.5),
    dict(type='PackGenInputs'),
]


def write(path, array):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    assert cv2.imwrite(str(path), array), path
    return str(path)


def fake_maps(seed):
    """A photo (BGR on disk), label ids 0..33 and Cityscapes instance ids."""
    rng = np.random.RandomState(seed)
    label = rng.randint(0, 34, (HEIGHT, WIDTH)).astype(np.uint8)
    inst = label.astype(np.uint16)
    cars = label == 26
    inst[cars] = 26000 + rng.randint(0, 5, int(cars.sum()))
    photo = rng.randint(0, 256, (HEIGHT, WIDTH, 3)).astype(np.uint8)
    return photo, label, inst


def make_cityscapes(root, split='train', names=(('aachen', 'aachen_000001'),
                                                ('aachen', 'aachen_000000'),
                                                ('bonn', 'bonn_000000'))):
    written = {}
    for seed, (city, stem) in enumerate(names):
        photo, label, inst = fake_maps(seed)
        write(f'{root}/leftImg8bit/{split}/{city}/{stem}_leftImg8bit.png',
              photo)
        gt = f'{root}/gtFine/{split}/{city}/{stem}'
        write(f'{gt}_gtFine_labelIds.png', label)
        write(f'{gt}_gtFine_instanceIds.png', inst)
        written[stem] = (photo[..., ::-1], label, inst)
    return written


# ---------------------------------------------------------------- Cityscapes


def test_cityscapes_finds_pairs_in_sorted_order(tmp_path):
    make_cityscapes(tmp_path)
    dataset = CityscapesDataset(data_root=str(tmp_path))
    assert len(dataset) == 3
    infos = [dataset.get_data_info(i) for i in range(3)]
    assert [os.path.basename(i['img_path']) for i in infos] == [
        'aachen_000000_leftImg8bit.png', 'aachen_000001_leftImg8bit.png',
        'bonn_000000_leftImg8bit.png'
    ]
    assert infos[2]['label_path'].endswith(
        'gtFine/train/bonn/bonn_000000_gtFine_labelIds.png')
    assert infos[2]['inst_path'].endswith('bonn_000000_gtFine_instanceIds.png')
    assert dataset.metainfo['num_classes'] == NUM_LABEL_IDS
    assert len(dataset.metainfo['classes']) == len(
        dataset.metainfo['palette']) == NUM_LABEL_IDS
    assert dataset.metainfo['ignore_index'] == 255


def test_cityscapes_loads_label_ids_and_16bit_instances_exactly(tmp_path):
    written = make_cityscapes(tmp_path)
    dataset = CityscapesDataset(
        data_root=str(tmp_path), pipeline=[dict(type='LoadPairedImages')])
    results = dataset[2]
    photo, label, inst = written['bonn_000000']
    np.testing.assert_array_equal(results['img'], photo)
    np.testing.assert_array_equal(results['gt_label'], label)
    np.testing.assert_array_equal(results['gt_inst'], inst)
    assert results['gt_inst'].max() >= 26000
    np.testing.assert_array_equal(
        instance_map_to_label_ids(results['gt_inst']), results['gt_label'])


def test_cityscapes_train_ids_match_the_label_table(tmp_path):
    root = tmp_path
    label = np.array([[lb.id for lb in LABELS]], np.uint8)
    write(f'{root}/leftImg8bit/val/x/x_0_leftImg8bit.png',
          np.zeros(label.shape + (3, ), np.uint8))
    write(f'{root}/gtFine/val/x/x_0_gtFine_labelIds.png', label)
    dataset = CityscapesDataset(
        data_root=str(root), split='val', use_train_ids=True,
        with_instances=False, pipeline=[dict(type='LoadPairedImages')])
    results = dataset[0]
    np.testing.assert_array_equal(results['gt_label'][0],
                                  [lb.train_id for lb in LABELS])
    # The benchmark's table (cityscapesScripts labels.py), written out: label
    # ids of train ids 0..18, everything else ignored.
    evaluated = [7, 8, 11, 12, 13, 17, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28,
                 31, 32, 33]
    expected = np.full(len(LABELS), 255)
    expected[evaluated] = np.arange(19)
    np.testing.assert_array_equal(results['gt_label'][0], expected)
    assert [TRAIN_ID_NAMES[i] for i in (0, 11, 13, 14, 15, 18)] == [
        'road', 'person', 'car', 'truck', 'bus', 'bicycle']
    assert results['inst_path'] is None and 'gt_inst' not in results
    assert dataset.metainfo['classes'] == TRAIN_ID_NAMES
    assert dataset.metainfo['num_classes'] == NUM_TRAIN_IDS


def test_cityscapes_full_pipeline_through_registry(tmp_path):
    make_cityscapes(tmp_path)
    dataset = DATASETS.build(
        dict(type='CityscapesDataset', data_root=str(tmp_path),
             pipeline=PIPELINE))
    packed = dataset[1]
    assert packed['inputs']['img'].shape == (3, 15, 21)
    assert packed['inputs']['label'].dtype == torch.int64
    assert packed['inputs']['inst'].shape == (15, 21)
    assert packed['data_samples'].ori_shape == (HEIGHT, WIDTH)
    assert packed['data_samples'].sample_idx == 1


def test_cityscapes_missing_root_or_split_names_the_path(tmp_path):
    missing = tmp_path / 'no_such_root'
    with pytest.raises(FileNotFoundError,
                       match='no_such_root.*tools/make_dataset.py'):
        CityscapesDataset(data_root=str(missing))
    make_cityscapes(tmp_path)
    with pytest.raises(FileNotFoundError, match=r'leftImg8bit[/\\]val'):
        CityscapesDataset(data_root=str(tmp_path), split='val')


def test_cityscapes_missing_partner_names_the_image(tmp_path):
    make_cityscapes(tmp_path)
    os.remove(tmp_path / 'gtFine/train/bonn/bonn_000000_gtFine_labelIds.png')
    with pytest.raises(FileNotFoundError,
                       match='bonn_000000_leftImg8bit.png has no label map'):
        CityscapesDataset(data_root=str(tmp_path))
    make_cityscapes(tmp_path)
    os.remove(tmp_path /
              'gtFine/train/bonn/bonn_000000_gtFine_instanceIds.png')
    with pytest.raises(FileNotFoundError, match='no instance map'):
        CityscapesDataset(data_root=str(tmp_path))
    assert len(CityscapesDataset(data_root=str(tmp_path),
                                 with_instances=False)) == 3


# ---------------------------------------------------------------- folders


def make_paired_folder(root, phase='train', stems=('b', 'a', 'c'),
                       with_inst=True, num_classes=5):
    for seed, stem in enumerate(stems):
        rng = np.random.RandomState(seed)
        label = rng.randint(0, num_classes, (HEIGHT, WIDTH)).astype(np.uint8)
        write(f'{root}/{phase}_label/{stem}.png', label)
        ext = '.jpg' if seed % 2 else '.png'  # mixed photo extensions
        write(f'{root}/{phase}_img/{stem}{ext}',
              rng.randint(0, 256, (HEIGHT, WIDTH, 3)).astype(np.uint8))
        if with_inst:
            write(f'{root}/{phase}_inst/{stem}.png',
                  (label.astype(np.uint16) * 1000 + 7))


def test_paired_folder_pairs_by_stem_and_detects_instances(tmp_path):
    make_paired_folder(tmp_path)
    dataset = PairedFolderDataset(str(tmp_path), num_classes=5)
    assert dataset.with_instances is True
    infos = [dataset.get_data_info(i) for i in range(len(dataset))]
    assert [os.path.basename(i['label_path']) for i in infos] == [
        'a.png', 'b.png', 'c.png'
    ]
    assert [os.path.basename(i['img_path']) for i in infos] == [
        'a.jpg', 'b.png', 'c.png'
    ]
    assert all(i['inst_path'].endswith(
        os.path.join('train_inst', os.path.basename(i['label_path'])))
        for i in infos)
    meta = dataset.metainfo
    assert meta['num_classes'] == 5 and len(meta['classes']) == 5
    assert len(set(meta['palette'])) == 5


def test_paired_folder_pairs_files_in_subfolders_by_relative_path(tmp_path):
    """pix2pixHD's loader walks subfolders; the same name in two of them
    is two samples, each paired within its own subfolder."""
    make_paired_folder(tmp_path, stems=('x/a', 'y/a', 'b'))
    dataset = PairedFolderDataset(str(tmp_path), num_classes=5)
    infos = [dataset.get_data_info(i) for i in range(len(dataset))]
    label_dir, img_dir = tmp_path / 'train_label', tmp_path / 'train_img'
    assert [i['label_path'] for i in infos] == [
        str(label_dir / 'b.png'), str(label_dir / 'x' / 'a.png'),
        str(label_dir / 'y' / 'a.png')]
    assert [i['img_path'] for i in infos] == [
        str(img_dir / 'b.png'), str(img_dir / 'x' / 'a.png'),
        str(img_dir / 'y' / 'a.jpg')]
    # Hidden folders (e.g. .ipynb_checkpoints) hold no samples.
    write(str(label_dir / '.ipynb_checkpoints' / 'b.png'),
          np.zeros((HEIGHT, WIDTH), np.uint8))
    assert len(PairedFolderDataset(str(tmp_path), num_classes=5)) == 3
    os.rename(img_dir / 'y', img_dir / 'z')
    with pytest.raises(FileNotFoundError, match=r'y/a\.png has no partner named '
                                                r'y/a\.\*'):
        PairedFolderDataset(str(tmp_path), num_classes=5)


def test_paired_folder_full_pipeline_with_16bit_instances(tmp_path):
    make_paired_folder(tmp_path, num_classes=12)
    dataset = DATASETS.build(
        dict(type='PairedFolderDataset', data_root=str(tmp_path),
             num_classes=12, pipeline=[
                 dict(type='LoadPairedImages'),
                 dict(type='CheckLabelIds', num_classes=12),
             ] + PIPELINE[1:]))
    packed = dataset[0]
    assert set(packed['inputs']) == {'img', 'label', 'inst'}
    inst, label = packed['inputs']['inst'], packed['inputs']['label']
    real = label != 255
    assert torch.equal(inst[real], label[real] * 1000 + 7)


def test_paired_folder_generation_only(tmp_path):
    make_paired_folder(tmp_path, phase='test', with_inst=False)
    dataset = PairedFolderDataset(
        str(tmp_path), phase='test', num_classes=5, with_images=False,
        pipeline=[dict(type='LoadPairedImages'),
                  dict(type='PackGenInputs')])
    assert dataset.with_instances is False
    packed = dataset[2]
    assert set(packed['inputs']) == {'label'}
    assert packed['data_samples'].img_path is None


def test_paired_folder_missing_partner_names_file_and_folder(tmp_path):
    make_paired_folder(tmp_path)
    os.remove(tmp_path / 'train_img' / 'c.png')
    with pytest.raises(FileNotFoundError,
                       match=r'c\.png has no partner named c\.\*.*train_img'):
        PairedFolderDataset(str(tmp_path), num_classes=5)
    with pytest.raises(FileNotFoundError, match='folder not found.*val_label'):
        PairedFolderDataset(str(tmp_path), phase='val', num_classes=5)
    with pytest.raises(FileNotFoundError, match='no_root'):
        PairedFolderDataset(str(tmp_path / 'no_root'), num_classes=5)


def test_paired_folder_colour_label_and_out_of_range_ids(tmp_path):
    make_paired_folder(tmp_path, with_inst=False, num_classes=9)
    pipeline = [dict(type='LoadPairedImages'),
                dict(type='CheckLabelIds', num_classes=4)]
    dataset = PairedFolderDataset(str(tmp_path), num_classes=4,
                                  pipeline=pipeline)
    with pytest.raises(ValueError, match=r'train_label[/\\]a\.png: label ids'
                       r' \[4, 5, 6, 7, 8\].*\[0, 4\)'):
        dataset[0]
    write(f'{tmp_path}/train_label/a.png', np.zeros((HEIGHT, WIDTH, 3),
                                                    np.uint8))
    with pytest.raises(ValueError, match=r'a\.png is a 3-channel \(colour\)'):
        dataset[0]


def test_paired_folder_metainfo_arguments(tmp_path):
    make_paired_folder(tmp_path)
    with pytest.raises(ValueError, match='classes has 2 names.*5'):
        PairedFolderDataset(str(tmp_path), num_classes=5, classes=['a', 'b'])
    with pytest.raises(TypeError):
        PairedFolderDataset(str(tmp_path))  # num_classes is required
    palette = [(i, i, i) for i in range(5)]
    dataset = PairedFolderDataset(str(tmp_path), num_classes=5,
                                  palette=palette)
    assert dataset.metainfo['palette'] == palette
    default = PairedFolderDataset(str(tmp_path), num_classes=5)
    again = PairedFolderDataset(str(tmp_path), num_classes=5)
    assert default.metainfo['palette'] == again.metainfo['palette']
