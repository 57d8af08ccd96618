"""Re-number class ids with a lookup table (e.g. Cityscapes label id -> train id).

A lookup table ``lut`` maps id ``i`` to ``lut[i]``; indexing the table with the
whole label map does the mapping in one vectorised step.
"""
from typing import Optional, Sequence, Union

import numpy as np
from mmcv.transforms import BaseTransform

from gentk.datasets.cityscapes_labels import label_id_to_train_id_lut
from gentk.registry import TRANSFORMS

#: Tables a config can name instead of spelling out 256 numbers.
NAMED_LUTS = {
    'cityscapes_train_ids': label_id_to_train_id_lut,
}


def as_lut(lut: Union[str, Sequence[int], np.ndarray]) -> np.ndarray:
    """A 1-D int64 lookup table from a table name or a sequence of ids."""
    if isinstance(lut, str):
        if lut not in NAMED_LUTS:
            raise ValueError(f'unknown lut name {lut!r}; expected one of '
                             f'{sorted(NAMED_LUTS)} or a sequence of ids')
        return NAMED_LUTS[lut]().astype(np.int64)
    table = np.asarray(lut)
    if table.ndim != 1 or table.size == 0 or not np.issubdtype(
            table.dtype, np.integer):
        raise ValueError('lut must be a non-empty 1-D sequence of integer '
                         f'ids (lut[old_id] = new_id); got shape '
                         f'{table.shape} of dtype {table.dtype}')
    return table.astype(np.int64)


def apply_label_lut(label: np.ndarray, lut: np.ndarray,
                    label_path: Optional[str] = None) -> np.ndarray:
    """``lut[label]``, refusing ids the table does not cover."""
    lut = np.asarray(lut)
    if label.size and (label.min() < 0 or label.max() >= len(lut)):
        outside = np.unique(label[(label < 0) | (label >= len(lut))])
        raise ValueError(
            f'{label_path or "gt_label"}: label ids {outside[:8].tolist()} are '
            f'outside the lookup table, which covers ids 0..{len(lut) - 1}')
    return lut[label].astype(np.int64, copy=False)


@TRANSFORMS.register_module()
class MapLabelIds(BaseTransform):
    """Map every id of ``gt_label`` through a lookup table.

    ``CityscapesDataset(use_train_ids=True)`` does not need this transform: it
    hands its table to ``LoadPairedImages`` (results key ``label_lut``). Use it
    for data that arrives already decoded, or to merge/re-number classes of a
    paired-folder dataset.

    Args:
        lut (str | Sequence[int]): ``lut[old_id] = new_id`` for every id that
            can occur, or the name of a built-in table:
            ``'cityscapes_train_ids'`` (34 label ids -> 19 train ids, the
            rest -> 255).
    """

    def __init__(self, lut: Union[str, Sequence[int]]):
        self.lut = as_lut(lut)

    def transform(self, results: dict) -> dict:
        results['gt_label'] = apply_label_lut(
            results['gt_label'], self.lut, results.get('label_path'))
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(lut=<{len(self.lut)} ids>)'
