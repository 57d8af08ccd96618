"""Turn a results dict into the model's ``inputs`` and ``data_samples``."""
from typing import Sequence

import numpy as np
import torch
from mmcv.transforms import BaseTransform

from gentk.registry import TRANSFORMS
from gentk.structures import GenDataSample
from .paired_keys import PATH_KEYS

DEFAULT_META_KEYS = ('sample_idx', 'img_path', 'label_path', 'inst_path',
                     'ori_shape', 'img_shape', 'scale_factor', 'flip',
                     'flip_direction', 'crop_bbox')


def source(results: dict, key: str) -> str:
    """`` (from FILE)`` for errors, where the sample came from a file."""
    path = results.get(PATH_KEYS[key])
    return f' (from {path})' if path else ''


def id_map_tensor(results: dict, key: str) -> torch.Tensor:
    ids = np.asarray(results[key])
    if ids.ndim != 2:
        raise ValueError(f'PackGenInputs: {key}{source(results, key)} must '
                         f'be an HxW map, got shape {ids.shape}')
    return torch.from_numpy(np.ascontiguousarray(ids, dtype=np.int64))


def image_tensor(results: dict) -> torch.Tensor:
    img = results['img']
    if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
        raise ValueError(f"PackGenInputs: img{source(results, 'img')} must be "
                         'an HxWx3 uint8 RGB array, got shape '
                         f'{img.shape} of dtype {img.dtype}')
    return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))


@TRANSFORMS.register_module()
class PackGenInputs(BaseTransform):
    """Pack a sample as ``{'inputs': {...}, 'data_samples': GenDataSample}``.

    ``inputs['img']``: uint8 [3, H, W] RGB (omitted when the sample has no
    photo), ``inputs['label']``: int64 [H, W], ``inputs['inst']``: int64
    [H, W] (only with instance maps). No normalisation: the data
    preprocessor does it on the model's device. ``meta_keys`` present in
    results go to the data sample's metainfo; a missing ``flip`` is
    recorded as False (nothing flipped the sample).

    Args:
        meta_keys (Sequence[str]): Results keys copied to metainfo.
    """

    def __init__(self, meta_keys: Sequence[str] = DEFAULT_META_KEYS):
        self.meta_keys = tuple(meta_keys)

    def transform(self, results: dict) -> dict:
        if results.get('label_lut') is not None:
            # The table would otherwise be dropped and the ids left unmapped.
            raise KeyError("PackGenInputs: 'label_lut' was never applied; "
                           'put LoadPairedImages in the pipeline')
        if results.get('gt_label') is None:
            raise KeyError("PackGenInputs: results has no 'gt_label'; put "
                           'LoadPairedImages in the pipeline')
        inputs = {'label': id_map_tensor(results, 'gt_label')}
        if results.get('img') is not None:
            inputs['img'] = image_tensor(results)
        if results.get('gt_inst') is not None:
            inputs['inst'] = id_map_tensor(results, 'gt_inst')
        metainfo = {key: results[key] for key in self.meta_keys
                    if key in results}
        if 'flip' in self.meta_keys:
            metainfo.setdefault('flip', False)
        return {'inputs': inputs,
                'data_samples': GenDataSample(metainfo=metainfo)}

    def __repr__(self) -> str:
        return f'{type(self).__name__}(meta_keys={self.meta_keys})'
