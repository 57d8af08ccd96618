"""pix2pixHD's folder layout: label maps, photos and instance maps, paired by
file stem.

::

    {data_root}/{phase}_label/{stem}.png   single-channel class ids
    {data_root}/{phase}_inst/{stem}.png    optional instance ids (16-bit ok)
    {data_root}/{phase}_img/{stem}.jpg     photos (png or jpg)
"""
import os
import os.path as osp
from typing import Callable, Dict, List, Optional, Sequence, Union

import numpy as np
from mmengine.dataset import BaseDataset

from gentk.registry import DATASETS, TRANSFORMS
from gentk.utils.label_ids import check_ignore_index

IMAGE_EXTENSIONS = ('.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff')


def index_by_stem(folder: str) -> Dict[str, str]:
    """{file stem: path} of the image files in ``folder`` and its
    subfolders (as pix2pixHD's loader walks them); a file in a subfolder
    is keyed by its path below ``folder``, e.g. ``'aachen/0001'``, and
    pairs with the file of that relative stem in the partner folder."""
    index = {}
    # Not into linked folders (a link cycle would never end) nor hidden
    # ones (.ipynb_checkpoints and the like hold copies, not samples).
    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith('.'))
        for name in sorted(names):
            stem, ext = osp.splitext(name)
            if ext.lower() not in IMAGE_EXTENSIONS:
                continue
            stem = osp.relpath(osp.join(root, stem), folder).replace(os.sep, '/')
            if stem in index:
                raise ValueError(
                    f'{folder} has two files with the stem {stem!r}: '
                    f'{osp.basename(index[stem])} and {name}; expected one '
                    'per sample')
            index[stem] = osp.join(root, name)
    return index


def more_note(stems: List[str]) -> str:
    return f' ({len(stems) - 1} more unpaired files)' if len(stems) > 1 else ''


def default_palette(num_classes: int) -> List[tuple]:
    """A fixed colour per class id: the id's bits are spread over the high
    bits of R, G and B, so neighbouring ids differ strongly and every id
    below 2**24 gets its own colour."""
    ids = np.arange(num_classes, dtype=np.int64)
    palette = np.zeros((num_classes, 3), dtype=np.int64)
    for bit in range(8):  # 8 bit planes x 3 channels, vectorised over ids
        for channel in range(3):
            palette[:, channel] |= (
                (ids >> (3 * bit + channel)) & 1) << (7 - bit)
    return [tuple(int(v) for v in colour) for colour in palette]


def check_palette(palette, num_classes: int) -> List[tuple]:
    colours = np.asarray(palette)
    if (colours.shape != (num_classes, 3)
            or not np.issubdtype(colours.dtype, np.integer)
            or colours.min() < 0 or colours.max() > 255):
        raise ValueError(
            f'palette must hold num_classes={num_classes} (r, g, b) colours '
            f'of ints in 0..255; got an array of shape {colours.shape}')
    return [tuple(int(v) for v in colour) for colour in colours]


@DATASETS.register_module()
class PairedFolderDataset(BaseDataset):
    """Label maps paired with photos (and instance maps) by file stem
    (in subfolders: by the path below the ``{phase}_*`` folder).

    Every label map needs a partner photo (unless ``with_images=False``)
    and instance map (when ``with_instances``), and every photo/instance
    map needs a label map; a missing partner is an error naming the file
    and the folder searched. Samples are sorted by stem.

    Args:
        data_root (str): Folder holding ``{phase}_label/`` etc.
        phase (str): Folder prefix, e.g. ``'train'`` or ``'test'``.
        num_classes (int): Number of class ids (keyword only; required).
        with_instances (bool, optional): Pair ``{phase}_inst/`` maps. None:
            only if that folder exists.
        with_images (bool): Pair photos from ``{phase}_img/``. False for
            generation only (label maps in, photos out); ``img_path`` is
            then None.
        classes (Sequence[str], optional): Class names; default
            ``class_0``, ``class_1``, ...
        palette (Sequence, optional): ``num_classes`` (r, g, b) colours;
            default: a fixed generated palette.
        ignore_index (int): The "no class" id, recorded in metainfo; must
            not be a class id (with more than 255 classes, set another).
        pipeline (Sequence): Transforms, e.g. ``LoadPairedImages`` first.
        test_mode (bool): As in ``BaseDataset``.
        **kwargs: Passed to ``mmengine.dataset.BaseDataset``.
    """

    def __init__(self,
                 data_root: str,
                 phase: str = 'train',
                 *,
                 num_classes: int,
                 with_instances: Optional[bool] = None,
                 with_images: bool = True,
                 classes: Optional[Sequence[str]] = None,
                 palette: Optional[Sequence] = None,
                 ignore_index: int = 255,
                 pipeline: Sequence[Union[dict, Callable]] = (),
                 test_mode: bool = False,
                 **kwargs):
        if not isinstance(num_classes, int) or num_classes < 1:
            raise ValueError('PairedFolderDataset: num_classes must be a '
                             f'positive int, got {num_classes!r}')
        check_ignore_index(num_classes, ignore_index, 'PairedFolderDataset')
        self.phase = phase
        self.with_images = with_images
        if with_instances is None:
            with_instances = osp.isdir(self._folder(data_root, 'inst'))
        self.with_instances = with_instances
        if classes is None:
            classes = [f'class_{i}' for i in range(num_classes)]
        elif len(classes) != num_classes:
            raise ValueError(f'PairedFolderDataset: classes has '
                             f'{len(classes)} names; expected num_classes='
                             f'{num_classes}')
        palette = (default_palette(num_classes)
                   if palette is None else check_palette(palette, num_classes))
        metainfo = dict(classes=tuple(classes), palette=palette,
                        num_classes=num_classes, ignore_index=ignore_index)
        metainfo.update(kwargs.pop('metainfo', None) or {})
        # Built from gentk's registry so that no default scope is needed.
        pipeline = [TRANSFORMS.build(step) if isinstance(step, dict) else step
                    for step in pipeline]
        super().__init__(data_root=data_root, metainfo=metainfo,
                         pipeline=pipeline, test_mode=test_mode, **kwargs)

    def _folder(self, data_root: str, kind: str) -> str:
        return osp.join(data_root or '', f'{self.phase}_{kind}')

    def load_data_list(self) -> List[dict]:
        if not self.data_root or not osp.isdir(self.data_root):
            raise FileNotFoundError(
                f'PairedFolderDataset data_root not found: {self.data_root}; '
                f'expected a folder holding {self.phase}_label/ and '
                f'{self.phase}_img/ (see docs/dataset_preparation.md)')
        kinds = ['label']
        kinds += ['img'] if self.with_images else []
        kinds += ['inst'] if self.with_instances else []
        indexes = {}
        for kind in kinds:
            folder = self._folder(self.data_root, kind)
            if not osp.isdir(folder):
                hint = {'img': ' (with_images=False for generation only)',
                        'inst': ' (or with_instances=False)'}.get(kind, '')
                raise FileNotFoundError(
                    f'PairedFolderDataset: folder not found: {folder}{hint}')
            indexes[kind] = index_by_stem(folder)
        labels = indexes['label']
        if not labels:
            raise FileNotFoundError(
                'PairedFolderDataset: no label maps ('
                f"{'/'.join(IMAGE_EXTENSIONS)}) in "
                f"{self._folder(self.data_root, 'label')}")
        for kind in kinds[1:]:
            self._check_partners(indexes[kind], labels, kind)
        return [
            dict(img_path=indexes['img'][stem] if self.with_images else None,
                 label_path=label_path,
                 inst_path=indexes['inst'][stem]
                 if self.with_instances else None)
            for stem, label_path in sorted(labels.items())
        ]

    def _check_partners(self, others: Dict[str, str], labels: Dict[str, str],
                        kind: str) -> None:
        """Every label map has a ``kind`` file with its stem and back."""
        unpaired = sorted(labels.keys() - others.keys())
        if unpaired:
            raise FileNotFoundError(
                f'{labels[unpaired[0]]} has no partner named {unpaired[0]}.* '
                f'(png/jpg) in {self._folder(self.data_root, kind)}'
                f'{more_note(unpaired)}')
        unpaired = sorted(others.keys() - labels.keys())
        if unpaired:
            raise FileNotFoundError(
                f'{others[unpaired[0]]} has no label map named '
                f'{unpaired[0]}.* in {self._folder(self.data_root, "label")}'
                f'{more_note(unpaired)}')
