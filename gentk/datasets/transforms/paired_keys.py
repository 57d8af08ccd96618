"""Which results keys the paired transforms move together, and how.

Every geometric transform must treat the photo and its maps identically, so
they all read the key lists from here instead of naming keys themselves.
"""
from typing import Iterator, Tuple

import numpy as np

#: Photos: resized with a smooth kernel, padded with ``img_pad_val``.
IMAGE_KEYS = ('img', )
#: Id maps (class ids, instance ids): resized with nearest neighbour so that
#: no id is invented, padded with their own ``*_pad_val``.
ID_MAP_KEYS = ('gt_label', 'gt_inst')
#: The results key naming the file each array was read from.
PATH_KEYS = {'img': 'img_path', 'gt_label': 'label_path',
             'gt_inst': 'inst_path'}


def present(results: dict, keys: Tuple[str, ...]) -> Iterator[str]:
    """The keys of ``keys`` that hold an array in ``results`` (None = absent,
    e.g. ``img`` in generation-only data or ``gt_inst`` without instances)."""
    return (key for key in keys if results.get(key) is not None)


def reference_shape(results: dict, transform_name: str) -> Tuple[int, int]:
    """(H, W) of the sample, read from ``gt_label`` (present in every sample,
    unlike ``img``)."""
    label = results.get('gt_label')
    if label is None:
        raise KeyError(
            f"{transform_name}: results has no 'gt_label'; put "
            'LoadPairedImages before it (or fill gt_label in the dataset).')
    return tuple(np.shape(label)[:2])
