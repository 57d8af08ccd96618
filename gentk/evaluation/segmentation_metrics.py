"""Semantic segmentation scores from a confusion matrix.

The confusion matrix is accumulated batch by batch with one ``bincount``
(int64, exact), so memory stays at ``num_classes**2`` whatever the split size.
IoU of class c = TP / (TP + FP + FN); mIoU averages the classes whose union
is not empty (a class absent from both labels and predictions has no IoU),
as the Cityscapes scripts and mmsegmentation do. aAcc = correct / labelled.
"""
from typing import Dict, List, Sequence

import torch
from mmengine.evaluator import BaseMetric

from gentk.registry import METRICS


def confusion_matrix(pred: torch.Tensor, label: torch.Tensor, num_classes: int,
                     ignore_index: int = 255) -> torch.Tensor:
    """[num_classes, num_classes] int64 counts; rows: label, columns: pred.

    Pixels labelled ``ignore_index`` are skipped; any other label outside
    ``[0, num_classes)`` is a ValueError (labels in another id space would
    otherwise score the wrong classes, silently). A scored pixel predicted
    outside ``[0, num_classes)`` is a ValueError too: the segmenter and the
    metric disagree on the classes, and clamping it into a class could
    count it as correct.
    """
    if pred.shape != label.shape:
        raise ValueError(f'prediction {tuple(pred.shape)} and label '
                         f'{tuple(label.shape)} differ in shape')
    label = label.reshape(-1).long()
    pred = pred.reshape(-1).long()
    keep = label != ignore_index
    label, pred = label[keep], pred[keep]
    _refuse_outside(label, num_classes,
                    'label ids {} are outside [0, {}) and are not '
                    f'ignore_index={ignore_index}: labels in other ids than '
                    'the classes scored (e.g. Cityscapes label ids where '
                    'train ids are scored: use_train_ids=True)')
    _refuse_outside(pred, num_classes,
                    'predicted class ids {} on scored pixels are outside '
                    '[0, {}): the segmenter predicts classes the metric does '
                    f'not score (check num_classes={num_classes})')
    index = label * num_classes + pred
    return torch.bincount(index, minlength=num_classes ** 2).reshape(
        num_classes, num_classes).cpu()


def _refuse_outside(ids: torch.Tensor, num_classes: int, message: str) -> None:
    """ValueError ``message`` (filled with the first ids and the class
    count) where ``ids`` leave ``[0, num_classes)``."""
    outside = (ids < 0) | (ids >= num_classes)
    if outside.any():
        found = torch.unique(ids[outside]).tolist()
        listed = f'{found[:5]}{" ..." if len(found) > 5 else ""}'
        raise ValueError(message.format(listed, num_classes))


def scores_from_confusion(matrix: torch.Tensor) -> Dict[str, object]:
    """mIoU, aAcc, mAcc and per-class IoU (NaN where the union is empty)."""
    matrix = matrix.double()
    tp = matrix.diag()
    labelled = matrix.sum(1)
    predicted = matrix.sum(0)
    union = labelled + predicted - tp
    iou = tp / union                      # NaN where union == 0
    acc = tp / labelled
    total = labelled.sum()
    return {
        'mIoU': float(iou.nanmean()),
        'aAcc': float(tp.sum() / total) if total > 0 else float('nan'),
        'mAcc': float(acc.nanmean()),
        'IoU': iou.tolist(),
    }


@METRICS.register_module()
class SegmentationMetric(BaseMetric):
    """mIoU and pixel accuracy of ``pred_label`` against ``gt_label``.

    Args:
        num_classes: classes scored (e.g. 19 Cityscapes train ids).
        ignore_index: label value that is not scored.
        class_names: optional names for the per-class IoU in the log.
    """

    default_prefix = 'seg'

    def __init__(self, num_classes: int, ignore_index: int = 255,
                 class_names: Sequence[str] = (), **kwargs):
        super().__init__(**kwargs)
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        self.class_names = tuple(class_names)

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            self.results.append(confusion_matrix(
                sample['pred_label'], sample['gt_label'], self.num_classes,
                self.ignore_index))

    def compute_metrics(self, results: List[torch.Tensor]) -> Dict[str, float]:
        scores = scores_from_confusion(torch.stack(results).sum(0))
        out = {'mIoU': scores['mIoU'], 'aAcc': scores['aAcc'],
               'mAcc': scores['mAcc']}
        for i, name in enumerate(self.class_names):
            out[f'IoU.{name}'] = scores['IoU'][i]
        return out
