"""Read a sample's photo, label map and instance map from their files.

Files are read through mmengine's fileio (so ``backend_args`` can point at
other storage) and decoded with OpenCV, pixels as stored: an EXIF
orientation tag is not applied (the label map has none, so turning the
photo would misalign the pair). Id maps are read as the ids their files
store: OpenCV stretches 1-, 2- and 4-bit greyscale PNGs to 0..255, which is
undone here, and it expands indexed (palette) PNGs to colours, so those are
read with Pillow, whose indices are the ids. Lossy (JPEG) id maps are
refused: compression changes ids at every boundary. Keys that a dataset
already filled with arrays (e.g. a procedural dataset) are left untouched.
"""
import io
from typing import Optional

import cv2
import numpy as np
from mmcv.transforms import BaseTransform
from mmengine import fileio
from PIL import Image

from gentk.registry import TRANSFORMS
from .map_label_ids import apply_label_lut
from .paired_keys import PATH_KEYS


def read_file_bytes(path: str, key: str,
                    backend_args: Optional[dict] = None) -> np.ndarray:
    """The raw bytes of ``path``; ``key`` names the results key in errors."""
    try:
        buf = fileio.get(path, backend_args=backend_args)
    except FileNotFoundError:
        raise FileNotFoundError(f'{key}: file not found: {path}') from None
    if not buf:
        raise ValueError(f'{key}: file is empty: {path}')
    return np.frombuffer(buf, dtype=np.uint8)


def decode_image(buf: np.ndarray, flag: int, path: str,
                 key: str) -> np.ndarray:
    image = cv2.imdecode(buf, flag)
    if image is None:
        raise ValueError(f'{key}: cannot decode {path} as an image; expected '
                         'a PNG or JPEG file')
    return image


def read_rgb_image(path: str, backend_args: Optional[dict] = None):
    """An HxWx3 uint8 RGB photo (grey and 16-bit files are converted)."""
    buf = read_file_bytes(path, 'img_path', backend_args)
    bgr = decode_image(buf, cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION,
                       path, 'img_path')
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'
JPEG_SIGNATURE = b'\xff\xd8\xff'
PNG_GREY, PNG_PALETTE = 0, 3  # IHDR colour types


def png_format(buf: np.ndarray) -> Optional[tuple]:
    """``(bit depth, colour type)`` from a PNG's header; None if ``buf``
    is not a PNG. (The IHDR chunk always comes first.)"""
    head = buf[:26].tobytes()
    if len(head) < 26 or not head.startswith(PNG_SIGNATURE):
        return None
    return head[24], head[25]


def decode_id_map(buf: np.ndarray, path: str, key: str) -> np.ndarray:
    """The ids a file stores, as decoded (uint8 or uint16, maybe with
    channels where the file has them)."""
    if buf[:3].tobytes() == JPEG_SIGNATURE:
        raise ValueError(
            f'{key}: {path} is a JPEG file; expected a lossless id map (PNG): '
            'JPEG compression changes the ids along every boundary')
    fmt = png_format(buf)
    if fmt is not None and fmt[1] == PNG_PALETTE:
        with Image.open(io.BytesIO(buf.tobytes())) as image:
            return np.asarray(image)  # mode 'P': the palette indices
    ids = decode_image(buf, cv2.IMREAD_UNCHANGED, path, key)
    if fmt is not None and fmt[1] == PNG_GREY and fmt[0] < 8:
        # 1/2/4-bit values v came out as v * 255 / (2^bits - 1).
        ids = ids // (255 // ((1 << fmt[0]) - 1))
    return ids


def read_id_map(path: str, key: str,
                backend_args: Optional[dict] = None) -> np.ndarray:
    """An HxW int64 map of ids from a single-channel file: 1- to 16-bit
    greyscale or indexed PNG (or another lossless format OpenCV reads)."""
    buf = read_file_bytes(path, key, backend_args)
    ids = decode_id_map(buf, path, key)
    if ids.ndim == 3 and ids.shape[2] > 1:
        raise ValueError(
            f'{key}: {path} is a {ids.shape[2]}-channel (colour) image; '
            'expected a single-channel map of ids (8- or 16-bit greyscale '
            'PNG). Convert colour-coded maps to ids first.')
    if ids.dtype not in (np.uint8, np.uint16):
        raise ValueError(f'{key}: {path} holds {ids.dtype} pixels; expected '
                         'uint8 or uint16 ids')
    return ids.reshape(ids.shape[:2]).astype(np.int64)


@TRANSFORMS.register_module()
class LoadPairedImages(BaseTransform):
    """Load ``img`` (RGB uint8), ``gt_label`` and ``gt_inst`` (int64).

    Reads ``img`` from ``img_path`` (skipped when ``img_path`` is None:
    generation-only data), ``gt_label`` from ``label_path`` and ``gt_inst``
    from ``inst_path`` (when not None). A key already holding an array is not
    reloaded. A ``label_lut`` in results (set by
    ``CityscapesDataset(use_train_ids=True)``) is then applied to
    ``gt_label`` and removed. Sets ``ori_shape`` and ``img_shape`` to (H, W)
    when missing. All maps must have the photo's size.

    Args:
        backend_args (dict, optional): mmengine fileio backend arguments.
    """

    def __init__(self, backend_args: Optional[dict] = None):
        self.backend_args = backend_args

    def transform(self, results: dict) -> dict:
        if results.get('img') is None and results.get('img_path'):
            results['img'] = read_rgb_image(results['img_path'],
                                            self.backend_args)
        if results.get('gt_label') is None:
            if not results.get('label_path'):
                raise KeyError("LoadPairedImages: results has neither "
                               "'gt_label' nor 'label_path'")
            results['gt_label'] = read_id_map(results['label_path'],
                                              'label_path', self.backend_args)
        if results.get('gt_inst') is None and results.get('inst_path'):
            results['gt_inst'] = read_id_map(results['inst_path'],
                                             'inst_path', self.backend_args)
        lut = results.pop('label_lut', None)
        if lut is not None:
            results['gt_label'] = apply_label_lut(
                results['gt_label'], lut, results.get('label_path'))
        self._check_same_size(results)
        shape = tuple(results['gt_label'].shape[:2])
        for key in ('ori_shape', 'img_shape'):
            if results.get(key) is None:
                results[key] = shape
        return results

    @staticmethod
    def _check_same_size(results: dict) -> None:
        label_shape = results['gt_label'].shape[:2]
        for key in ('img', 'gt_inst'):
            if results.get(key) is None:
                continue
            shape = results[key].shape[:2]
            if shape != label_shape:
                raise ValueError(
                    f"{key} {results.get(PATH_KEYS[key]) or ''} is "
                    f'{shape[0]}x{shape[1]} (HxW) but its label map '
                    f"{results.get('label_path') or ''} is "
                    f'{label_shape[0]}x{label_shape[1]}; expected the same '
                    'size (resize the files offline)')

    def __repr__(self) -> str:
        return f'{type(self).__name__}(backend_args={self.backend_args})'
