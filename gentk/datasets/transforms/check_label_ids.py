"""Refuse (or neutralise) class ids the model has no channel for.

An id >= num_classes would silently index outside the generator's one-hot
input, so it is caught here, with the file name, rather than deep in a model.
"""
from typing import Optional

import numpy as np
from mmcv.transforms import BaseTransform

from gentk.registry import TRANSFORMS
from gentk.utils.label_ids import check_ignore_index

#: How many offending ids an error message lists.
MAX_IDS_SHOWN = 8


@TRANSFORMS.register_module()
class CheckLabelIds(BaseTransform):
    """Check that every ``gt_label`` id is in ``[0, num_classes)`` or is
    ``ignore_index``.

    Args:
        num_classes (int): Number of class ids the model takes.
        ignore_index (int | None): The id that marks "no class" (padding,
            void); allowed anywhere. None: no such id.
        invalid (str): ``'error'`` raises ``ValueError`` naming ``label_path``
            and the ids; ``'ignore'`` maps them to ``ignore_index``.
    """

    def __init__(self, num_classes: int, ignore_index: Optional[int] = 255,
                 invalid: str = 'error'):
        if not isinstance(num_classes, int) or num_classes < 1:
            raise ValueError(
                f'CheckLabelIds: num_classes must be a positive int, got '
                f'{num_classes!r}')
        if invalid not in ('error', 'ignore'):
            raise ValueError(f"CheckLabelIds: invalid must be 'error' or "
                             f"'ignore', got {invalid!r}")
        if invalid == 'ignore' and ignore_index is None:
            raise ValueError("CheckLabelIds: invalid='ignore' needs an "
                             'ignore_index to map the ids to')
        check_ignore_index(num_classes, ignore_index, 'CheckLabelIds')
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        self.invalid = invalid

    def transform(self, results: dict) -> dict:
        label = results.get('gt_label')
        if label is None:
            raise KeyError("CheckLabelIds: results has no 'gt_label'; put "
                           'LoadPairedImages before it in the pipeline')
        # Fast path: min/max is a cheap pass; the full mask only on failure.
        if label.size == 0 or (label.min() >= 0
                               and label.max() < self.num_classes):
            return results
        bad = (label < 0) | (label >= self.num_classes)
        if self.ignore_index is not None:
            bad &= label != self.ignore_index
        if not bad.any():
            return results
        if self.invalid == 'ignore':
            # np.where makes a new array: the caller's array may be shared.
            results['gt_label'] = np.where(bad, self.ignore_index, label)
            return results
        ids = np.unique(label[bad])
        shown = ids[:MAX_IDS_SHOWN].tolist()
        more = f' and {len(ids) - MAX_IDS_SHOWN} more' if len(
            ids) > MAX_IDS_SHOWN else ''
        ignore = ('' if self.ignore_index is None else
                  f' or the ignore index {self.ignore_index}')
        raise ValueError(
            f"{results.get('label_path') or 'gt_label'}: label ids "
            f'{shown}{more} ({int(bad.sum())} pixels) are not class ids; '
            f'expected ids in [0, {self.num_classes}){ignore}. Check '
            "num_classes, or use CheckLabelIds(invalid='ignore') to map them "
            'to the ignore index.')

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(num_classes={self.num_classes}, '
                f'ignore_index={self.ignore_index}, '
                f'invalid={self.invalid!r})')
