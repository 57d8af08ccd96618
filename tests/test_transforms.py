"""The paired transforms: loading, id checks, resize, crop, flip, packing."""
import cv2
import numpy as np
import pytest
import torch
from mmengine.dataset import Compose
from mmengine.registry import DefaultScope
from mmengine.runner import set_random_seed

from gentk.datasets.cityscapes_labels import LABELS
from gentk.datasets.transforms import (CheckLabelIds, LoadPairedImages,
                                       MapLabelIds, PackGenInputs,
                                       PairedRandomCrop, PairedRandomFlip,
                                       PairedResize, PairedResizeToMultiple,
                                       ScaleWidth)
from gentk.datasets.transforms.resize import resize_image
from gentk.structures import GenDataSample


def aligned_sample(height=23, width=31, seed=0):
    """A sample whose photo encodes its maps: R = 20 * class id,
    G = instance id % 256, B = 7; so alignment is checkable pixel by pixel."""
    rng = np.random.RandomState(seed)
    label = rng.randint(0, 10, (height, width)).astype(np.int64)
    inst = label * 1000 + rng.randint(0, 3, (height, width))
    img = np.stack([label * 20, inst % 256, np.full_like(label, 7)],
                   axis=-1).astype(np.uint8)
    return dict(img=img, gt_label=label, gt_inst=inst,
                img_shape=(height, width), ori_shape=(height, width),
                sample_idx=0)


def assert_aligned(results, label_pad=255):
    img, label, inst = results['img'], results['gt_label'], results['gt_inst']
    assert img.shape[:2] == label.shape == inst.shape
    real = label != label_pad
    np.testing.assert_array_equal(img[..., 0][real], label[real] * 20)
    np.testing.assert_array_equal(img[..., 1][real], inst[real] % 256)
    np.testing.assert_array_equal(inst[real] // 1000, label[real])
    # Padding: the same pixels are padding in all three.
    assert (img[~real] == 0).all() and (inst[~real] == 0).all()


# ---------------------------------------------------------------- loading


def write(path, array):
    assert cv2.imwrite(str(path), array), path
    return str(path)


def test_load_reads_rgb_and_16bit_instances_exactly(tmp_path):
    rgb = np.random.RandomState(1).randint(0, 256, (9, 13, 3), np.uint8)
    label = np.arange(9 * 13, dtype=np.uint8).reshape(9, 13) % 35
    inst = (np.arange(9 * 13).reshape(9, 13) % 4 + 26000).astype(np.uint16)
    inst[0, 0] = 65535
    results = LoadPairedImages()(dict(
        img_path=write(tmp_path / 'a.png', rgb[..., ::-1]),  # cv2 writes BGR
        label_path=write(tmp_path / 'a_label.png', label),
        inst_path=write(tmp_path / 'a_inst.png', inst)))
    np.testing.assert_array_equal(results['img'], rgb)
    assert results['img'].dtype == np.uint8
    assert results['gt_label'].dtype == results['gt_inst'].dtype == np.int64
    np.testing.assert_array_equal(results['gt_label'], label)
    np.testing.assert_array_equal(results['gt_inst'], inst)
    assert results['ori_shape'] == results['img_shape'] == (9, 13)


def test_load_skips_arrays_already_present():
    sample = aligned_sample()
    sample.update(img_path='/nonexistent/a.png',
                  label_path='/nonexistent/a_label.png', inst_path=None)
    before = {k: sample[k] for k in ('img', 'gt_label', 'gt_inst')}
    results = LoadPairedImages()(sample)
    for key, array in before.items():
        assert results[key] is array


def test_load_generation_only_has_no_img(tmp_path):
    label = np.zeros((5, 6), np.uint8)
    results = LoadPairedImages()(dict(
        img_path=None, label_path=write(tmp_path / 'l.png', label),
        inst_path=None))
    assert results.get('img') is None and 'gt_inst' not in results


def test_load_colour_label_is_an_error_naming_the_file(tmp_path):
    path = write(tmp_path / 'colour_label.png', np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(ValueError, match='colour_label.png.*single-channel'):
        LoadPairedImages()(dict(label_path=path))


def test_load_missing_and_mismatched_files_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match='label_path.*nope.png'):
        LoadPairedImages()(dict(label_path=str(tmp_path / 'nope.png')))
    img = write(tmp_path / 'big.png', np.zeros((8, 8, 3), np.uint8))
    label = write(tmp_path / 'small.png', np.zeros((4, 4), np.uint8))
    with pytest.raises(ValueError, match='big.png is 8x8.*small.png is 4x4'):
        LoadPairedImages()(dict(img_path=img, label_path=label))


# ---------------------------------------------------------------- label ids


def test_check_label_ids_error_names_path_ids_and_range():
    label = np.array([[0, 3, 255], [7, 9, -1]], np.int64)
    check = CheckLabelIds(num_classes=4)
    with pytest.raises(ValueError,
                       match=r'city/x\.png: label ids \[-1, 7, 9\].*\[0, 4\)'):
        check(dict(gt_label=label, label_path='city/x.png'))
    # Valid ids and the ignore index pass untouched.
    ok = dict(gt_label=np.array([[0, 3, 255]]))
    assert check(ok)['gt_label'] is ok['gt_label']


def test_check_label_ids_ignore_maps_to_ignore_index():
    label = np.array([[0, 3, 255], [7, 9, -1]], np.int64)
    out = CheckLabelIds(4, invalid='ignore')(dict(gt_label=label.copy()))
    np.testing.assert_array_equal(out['gt_label'],
                                  [[0, 3, 255], [255, 255, 255]])


def test_map_label_ids_cityscapes_train_ids_match_the_table():
    label = np.array([[lb.id for lb in LABELS]], np.int64)
    out = MapLabelIds('cityscapes_train_ids')(dict(gt_label=label))
    np.testing.assert_array_equal(out['gt_label'][0],
                                  [lb.train_id for lb in LABELS])
    with pytest.raises(ValueError, match=r'x\.png: label ids \[300\]'):
        MapLabelIds([0, 1])(dict(gt_label=np.array([[300]]),
                                 label_path='x.png'))


# ---------------------------------------------------------------- resize


def test_resize_labels_nearest_matches_hand_computed_result():
    label = np.arange(16, dtype=np.int64).reshape(4, 4)
    out = PairedResize(scale=(2, 2))(dict(gt_label=label))
    np.testing.assert_array_equal(out['gt_label'], [[5, 7], [13, 15]])
    # Upsampling 2x3 -> 3x5: source rows [0, 1, 1], columns [0, 0, 1, 2, 2].
    label = np.array([[1, 2, 3], [4, 5, 6]], np.int64)
    out = PairedResize(scale=(5, 3))(dict(gt_label=label, gt_inst=label))
    expected = [[1, 1, 2, 3, 3], [4, 4, 5, 6, 6], [4, 4, 5, 6, 6]]
    np.testing.assert_array_equal(out['gt_label'], expected)
    np.testing.assert_array_equal(out['gt_inst'], expected)
    assert out['img_shape'] == (3, 5)


def test_resize_invents_no_ids_and_keeps_alignment():
    sample = aligned_sample(23, 31)
    ids_before = set(np.unique(sample['gt_inst']))
    out = PairedResize(scale=(17, 40))(sample)
    assert out['gt_label'].shape == (40, 17) and out['img'].shape == (40, 17, 3)
    assert set(np.unique(out['gt_inst'])) <= ids_before
    assert out['gt_label'].dtype == out['gt_inst'].dtype == np.int64


def test_resize_image_is_bicubic():
    # A step edge: bicubic rings (over/undershoots), nearest/bilinear cannot.
    img = np.full((8, 8, 3), 50, np.uint8)
    img[:, 4:] = 200
    out = PairedResize(scale=(32, 32))(dict(img=img,
                                            gt_label=np.zeros((8, 8))))['img']
    assert out.dtype == np.uint8 and out.shape == (32, 32, 3)
    assert out.min() < 50 and out.max() > 200


def test_resize_image_matches_pil_bicubic():
    from PIL import Image  # a dependency of mmcv: always installed
    img = np.random.RandomState(0).randint(0, 256, (37, 53, 3), np.uint8)
    for height, width in ((80, 101), (17, 25)):
        pil = np.asarray(Image.fromarray(img).resize((width, height),
                                                     Image.BICUBIC))
        ours = resize_image(img, (height, width))
        assert np.abs(ours.astype(int) - pil).max() <= 1


def test_resize_scale_factor_keep_ratio_scale_width_and_multiple():
    def shape_after(transform, height=40, width=60):
        return transform(dict(gt_label=np.zeros((height, width))))['img_shape']

    assert shape_after(PairedResize(scale_factor=0.5)) == (20, 30)
    assert shape_after(PairedResize(scale=(30, 30), keep_ratio=True)) \
        == (20, 30)
    assert shape_after(ScaleWidth(20), 37, 53) == (13, 20)  # int(20*37/53)
    assert shape_after(PairedResizeToMultiple(16), 37, 53) == (32, 48)
    with pytest.raises(ValueError, match='exactly one'):
        PairedResize()


# ---------------------------------------------------------------- crop, flip


def test_crop_keeps_alignment_and_cuts_the_recorded_window():
    sample = aligned_sample(23, 31)
    source = {k: sample[k].copy() for k in ('img', 'gt_label', 'gt_inst')}
    out = PairedRandomCrop((11, 14))(sample)
    assert out['img_shape'] == (11, 14) and out['img'].shape == (11, 14, 3)
    assert_aligned(out)
    x1, y1, x2, y2 = out['crop_bbox']
    for key, array in source.items():
        np.testing.assert_array_equal(out[key], array[y1:y2, x1:x2])


def test_crop_pads_a_small_sample_with_ignore_index_and_zero():
    out = PairedRandomCrop((30, 20))(aligned_sample(23, 31))
    assert out['gt_label'].shape == (30, 20)
    assert (out['gt_label'][23:] == 255).all()
    assert_aligned(out)


def test_flip_keeps_alignment_and_records_it():
    sample = aligned_sample()
    label = sample['gt_label'].copy()
    out = PairedRandomFlip(prob=1.0)(sample)
    assert out['flip'] is True and out['flip_direction'] == 'horizontal'
    np.testing.assert_array_equal(out['gt_label'], label[:, ::-1])
    assert_aligned(out)
    out = PairedRandomFlip(prob=0.0)(aligned_sample())
    assert out['flip'] is False
    # Flipped twice: back as it was, and recorded as not flipped.
    twice = PairedRandomFlip(prob=1.0)(PairedRandomFlip(prob=1.0)(aligned_sample()))
    np.testing.assert_array_equal(twice['gt_label'], label)
    assert twice['flip'] is False and twice['flip_direction'] is None


def test_flip_and_crop_reproducible_under_mmengine_seed():
    def draws():
        flip, crop = PairedRandomFlip(0.5), PairedRandomCrop((5, 7))
        return [(flip(aligned_sample())['flip'],
                 crop(aligned_sample())['crop_bbox']) for _ in range(20)]

    set_random_seed(123)
    first = draws()
    set_random_seed(123)
    assert draws() == first
    assert {flip for flip, _ in first} == {True, False}
    assert len({bbox for _, bbox in first}) > 1


# ---------------------------------------------------------------- packing


def test_pack_types_dtypes_shapes():
    sample = aligned_sample(23, 31)
    sample.update(img_path='a.png', label_path='a_label.png', inst_path=None)
    packed = PackGenInputs()(sample)
    inputs, data_sample = packed['inputs'], packed['data_samples']
    assert set(inputs) == {'img', 'label', 'inst'}
    assert inputs['img'].dtype == torch.uint8
    assert inputs['img'].shape == (3, 23, 31)
    assert inputs['img'].is_contiguous()
    assert inputs['label'].dtype == inputs['inst'].dtype == torch.int64
    assert inputs['label'].shape == inputs['inst'].shape == (23, 31)
    torch.testing.assert_close(inputs['img'][0].long(), inputs['label'] * 20)
    assert isinstance(data_sample, GenDataSample)
    assert data_sample.img_path == 'a.png' and data_sample.inst_path is None
    assert data_sample.flip is False and data_sample.sample_idx == 0
    assert data_sample.img_shape == (23, 31)


def test_pack_without_photo_or_instances():
    packed = PackGenInputs()(dict(gt_label=np.zeros((4, 5), np.int64)))
    assert set(packed['inputs']) == {'label'}


def test_pack_refuses_an_unapplied_label_lut():
    with pytest.raises(KeyError, match='label_lut'):
        PackGenInputs()(dict(gt_label=np.zeros((2, 2)), label_lut=[0]))


# ---------------------------------------------------------------- pipeline


def test_full_pipeline_from_config_dicts_with_odd_sizes(tmp_path):
    sample = aligned_sample(37, 53)
    paths = dict(
        img_path=write(tmp_path / 'i.png', sample['img'][..., ::-1]),
        label_path=write(tmp_path / 'l.png', sample['gt_label'].astype(
            np.uint8)),
        inst_path=write(tmp_path / 's.png', sample['gt_inst'].astype(
            np.uint16)))
    pipeline = [
        dict(type='LoadPairedImages'),
        dict(type='CheckLabelIds', num_classes=10),
        dict(type='ScaleWidth', width=41),
        dict(type='PairedResizeToMultiple', size_divisor=4),
        dict(type='PairedRandomCrop', crop_size=(19, 27)),
        dict(type='PairedRandomFlip', prob=0.5),
        dict(type='PackGenInputs'),
    ]
    with DefaultScope.overwrite_default_scope('gentk'):
        compose = Compose(pipeline)
    packed = compose(dict(paths, sample_idx=3))
    assert packed['inputs']['img'].shape == (3, 19, 27)
    assert packed['inputs']['label'].shape == (19, 27)
    assert packed['inputs']['inst'].shape == (19, 27)
    meta = packed['data_samples'].metainfo
    assert meta['ori_shape'] == (37, 53) and meta['img_shape'] == (19, 27)
    assert meta['sample_idx'] == 3 and isinstance(meta['flip'], bool)
    label = packed['inputs']['label']
    inst = packed['inputs']['inst']
    # Nearest resizing kept every instance inside its class.
    assert torch.equal(inst // 1000, label)
