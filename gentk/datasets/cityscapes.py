"""Cityscapes in its published folder layout.

::

    {data_root}/leftImg8bit/{split}/{city}/{name}_leftImg8bit.png
    {data_root}/gtFine/{split}/{city}/{name}_gtFine_labelIds.png
    {data_root}/gtFine/{split}/{city}/{name}_gtFine_instanceIds.png  (16-bit)

The dataset lists paths only; ``LoadPairedImages`` reads the files.
"""
import os
import os.path as osp
from typing import Callable, List, Sequence, Union

import numpy as np
from mmengine.dataset import BaseDataset

from gentk.registry import DATASETS, TRANSFORMS
from .cityscapes_labels import (IGNORE_INDEX, LABEL_ID_NAMES,
                                LABEL_ID_PALETTE, NUM_LABEL_IDS,
                                NUM_TRAIN_IDS, TRAIN_ID_NAMES,
                                TRAIN_ID_PALETTE, label_id_to_train_id_lut)

IMG_SUFFIX = '_leftImg8bit.png'
LABEL_SUFFIX = '_gtFine_labelIds.png'
INST_SUFFIX = '_gtFine_instanceIds.png'
#: Instance ids >= this encode ``label_id * 1000 + instance number``.
INSTANCE_ID_BASE = 1000


def instance_map_to_label_ids(inst: np.ndarray) -> np.ndarray:
    """The label id of every pixel of a Cityscapes instance map: ids >= 1000
    are ``label_id * 1000 + k``; smaller ids are the label id itself (stuff
    classes and crowd regions)."""
    return np.where(inst >= INSTANCE_ID_BASE, inst // INSTANCE_ID_BASE, inst)


def cityscapes_metainfo(use_train_ids: bool) -> dict:
    if use_train_ids:
        names, palette, num_classes = (TRAIN_ID_NAMES, TRAIN_ID_PALETTE,
                                       NUM_TRAIN_IDS)
    else:
        names, palette, num_classes = (LABEL_ID_NAMES, LABEL_ID_PALETTE,
                                       NUM_LABEL_IDS)
    return dict(classes=tuple(names), palette=[tuple(c) for c in palette],
                num_classes=num_classes, ignore_index=IGNORE_INDEX)


def missing_folder_error(what: str, path: str) -> FileNotFoundError:
    return FileNotFoundError(
        f'Cityscapes {what} not found: {path}. Download '
        'leftImg8bit_trainvaltest.zip and gtFine_trainvaltest.zip from '
        'https://www.cityscapes-dataset.com and unzip both into data_root '
        '(see docs/dataset_preparation.md), or write a synthetic set in this '
        'layout with `python tools/make_dataset.py --out <data_root>`.')


@DATASETS.register_module()
class CityscapesDataset(BaseDataset):
    """Cityscapes photos with fine label maps and (optionally) instance maps.

    Each sample's info holds ``img_path``, ``label_path`` and ``inst_path``
    (None without instances), sorted by city then file name.

    Args:
        data_root (str): Folder holding ``leftImg8bit/`` and ``gtFine/``.
        split (str): ``'train'``, ``'val'`` or ``'test'``.
        use_train_ids (bool): False: ``gt_label`` holds the 35 label ids
            (pix2pixHD's input). True: the 19 train ids, all other ids 255;
            the mapping happens in ``LoadPairedImages``, which applies the
            ``label_lut`` this dataset adds to each sample. Instance maps keep
            their label-id encoding either way.
        with_instances (bool): Also list ``*_gtFine_instanceIds.png``.
        pipeline (Sequence): Transforms, e.g. ``LoadPairedImages`` first.
        test_mode (bool): As in ``BaseDataset``.
        **kwargs: Passed to ``mmengine.dataset.BaseDataset`` (``indices``,
            ``lazy_init``, ``metainfo`` overrides, ...).
    """

    def __init__(self,
                 data_root: str,
                 split: str = 'train',
                 use_train_ids: bool = False,
                 with_instances: bool = True,
                 pipeline: Sequence[Union[dict, Callable]] = (),
                 test_mode: bool = False,
                 **kwargs):
        self.split = split
        self.use_train_ids = use_train_ids
        self.with_instances = with_instances
        self.label_lut = (label_id_to_train_id_lut().astype(np.int64)
                          if use_train_ids else None)
        metainfo = cityscapes_metainfo(use_train_ids)
        metainfo.update(kwargs.pop('metainfo', None) or {})
        # Built from gentk's registry so that no default scope is needed.
        pipeline = [TRANSFORMS.build(step) if isinstance(step, dict) else step
                    for step in pipeline]
        super().__init__(data_root=data_root, metainfo=metainfo,
                         pipeline=pipeline, test_mode=test_mode, **kwargs)

    def load_data_list(self) -> List[dict]:
        if not self.data_root or not osp.isdir(self.data_root):
            raise missing_folder_error('data_root', str(self.data_root))
        img_dir = osp.join(self.data_root, 'leftImg8bit', self.split)
        gt_dir = osp.join(self.data_root, 'gtFine', self.split)
        for what, path in (('image folder', img_dir),
                           ('label folder', gt_dir)):
            if not osp.isdir(path):
                raise missing_folder_error(f'{self.split!r} {what}', path)
        data_list = []
        for city in sorted(os.listdir(img_dir)):
            city_dir = osp.join(img_dir, city)
            if not osp.isdir(city_dir):
                continue
            for name in sorted(os.listdir(city_dir)):
                if name.endswith(IMG_SUFFIX):
                    data_list.append(
                        self._pair(osp.join(city_dir, name), gt_dir, city))
        if not data_list:
            raise FileNotFoundError(
                f'no *{IMG_SUFFIX} files under {img_dir}/<city>/; expected '
                'the Cityscapes layout (see docs/dataset_preparation.md)')
        return data_list

    def _pair(self, img_path: str, gt_dir: str, city: str) -> dict:
        """The data info of one photo, with its label (and instance) path."""
        stem = osp.basename(img_path)[:-len(IMG_SUFFIX)]
        label_path = osp.join(gt_dir, city, stem + LABEL_SUFFIX)
        if not osp.isfile(label_path):
            raise FileNotFoundError(
                f'{img_path} has no label map; expected {label_path}')
        inst_path = None
        if self.with_instances:
            inst_path = osp.join(gt_dir, city, stem + INST_SUFFIX)
            if not osp.isfile(inst_path):
                raise FileNotFoundError(
                    f'{img_path} has no instance map; expected {inst_path} '
                    '(or set with_instances=False)')
        return dict(img_path=img_path, label_path=label_path,
                    inst_path=inst_path)

    def get_data_info(self, idx: int) -> dict:
        data_info = super().get_data_info(idx)
        # One shared table instead of a copy serialised with every sample.
        if self.label_lut is not None:
            data_info['label_lut'] = self.label_lut
        return data_info
