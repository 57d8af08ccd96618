"""Files as users hand them in: photos with EXIF orientation, id maps
stored as low-bit, indexed or lossy images, one-pixel-wide samples, and
ignore indices that collide with classes."""
import numpy as np
import pytest
from PIL import Image

from gentk.datasets import PairedFolderDataset
from gentk.datasets.transforms import (CheckLabelIds, LoadPairedImages,
                                       PackGenInputs, PairedRandomFlip)


def load(**paths):
    return LoadPairedImages()({k: str(v) for k, v in paths.items()})


def test_photo_orientation_tag_is_not_applied(tmp_path):
    # Left half white; the tag says "rotate 180 degrees". The label map has
    # no tag, so applying it would put the photo's left half on the right.
    rgb = np.zeros((8, 12, 3), np.uint8)
    rgb[:, :6] = 255
    image = Image.fromarray(rgb)
    exif = image.getexif()
    exif[0x0112] = 3
    image.save(tmp_path / 'img.jpg', quality=100, exif=exif.tobytes())
    label = np.zeros((8, 12), np.uint8)
    Image.fromarray(label).save(tmp_path / 'label.png')
    img = load(img_path=tmp_path / 'img.jpg', label_path=tmp_path / 'label.png')['img']
    assert img[:, :6].mean() > 250 and img[:, 6:].mean() < 5


@pytest.mark.parametrize('bits', [1, 2, 4])
def test_low_bit_grey_id_maps_keep_their_ids(tmp_path, bits):
    ids = (np.arange(24).reshape(4, 6) % (1 << bits)).astype(np.uint8)
    if bits == 1:
        Image.fromarray(ids.astype(bool)).save(tmp_path / 'label.png')
    else:
        Image.fromarray(ids).save(tmp_path / 'label.png', bits=bits)
    header = (tmp_path / 'label.png').read_bytes()[24:26]
    assert tuple(header) == (bits, 0)  # really a low-bit greyscale PNG
    got = load(label_path=tmp_path / 'label.png')['gt_label']
    assert got.dtype == np.int64 and np.array_equal(got, ids)


def test_indexed_png_id_maps_read_as_their_indices(tmp_path):
    ids = (np.arange(48).reshape(6, 8) % 5).astype(np.uint8)
    image = Image.fromarray(ids, mode='P')
    image.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0, 255, 9, 9, 9])
    image.save(tmp_path / 'label.png')
    assert np.array_equal(load(label_path=tmp_path / 'label.png')['gt_label'], ids)


def test_jpeg_id_maps_are_refused_naming_the_file(tmp_path):
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(tmp_path / 'label.jpg')
    with pytest.raises(ValueError, match=r'label_path: .*label\.jpg is a JPEG'):
        load(label_path=tmp_path / 'label.jpg')


@pytest.mark.parametrize('shape', [(5, 1), (1, 5)])
def test_flipped_one_pixel_wide_samples_pack(shape):
    rng = np.random.default_rng(0)
    results = dict(img=rng.integers(0, 255, shape + (3,), dtype=np.uint8),
                   gt_label=rng.integers(0, 9, shape),
                   gt_inst=rng.integers(0, 9, shape))
    want = {k: v[:, ::-1] for k, v in results.items()}
    packed = PackGenInputs()(PairedRandomFlip(prob=1.0)(dict(results)))['inputs']
    assert np.array_equal(packed['img'].permute(1, 2, 0).numpy(), want['img'])
    assert np.array_equal(packed['label'].numpy(), want['gt_label'])
    assert np.array_equal(packed['inst'].numpy(), want['gt_inst'])


def test_ignore_index_inside_the_classes_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r'CheckLabelIds: ignore_index=255 is '
                                         r'also a class id \(num_classes=300\)'):
        CheckLabelIds(num_classes=300)
    with pytest.raises(ValueError, match='PairedFolderDataset: ignore_index=0'):
        PairedFolderDataset(str(tmp_path), num_classes=3, ignore_index=0)
    # An ignore index outside the classes: class 255 survives the check.
    label = np.array([[254, 255], [299, -1]])
    out = CheckLabelIds(num_classes=300, ignore_index=-1)(dict(gt_label=label))
    assert np.array_equal(out['gt_label'], label)


def test_pack_and_check_errors_name_the_source():
    bad = dict(img=np.zeros((4, 4), np.uint8), img_path='photos/a.png',
               gt_label=np.zeros((4, 4), np.int64))
    with pytest.raises(ValueError, match=r'img \(from photos/a\.png\) must be '
                                         r'an HxWx3 uint8'):
        PackGenInputs()(bad)
    with pytest.raises(KeyError, match='LoadPairedImages before it'):
        CheckLabelIds(num_classes=3)(dict(label_path='a.png'))
