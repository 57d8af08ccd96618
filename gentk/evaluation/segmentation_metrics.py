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
from gentk.utils.label_ids import ids_outside


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
    bad = ids_outside(label, num_classes, ignore_index)
    if bad:
        raise ValueError(
            f'label ids {_listed(bad)} are outside [0, {num_classes}) and are '
            f'not ignore_index={ignore_index}: labels in other ids than the '
            'classes scored (e.g. Cityscapes label ids where train ids are '
            'scored: use_train_ids=True)')
    keep = label != ignore_index
    label, pred = label[keep], pred[keep]
    bad = ids_outside(pred, num_classes)
    if bad:
        raise ValueError(
            f'predicted class ids {_listed(bad)} on scored pixels are outside '
            f'[0, {num_classes}): the segmenter predicts classes the metric '
            f'does not score (check num_classes={num_classes})')
    index = label * num_classes + pred
    return torch.bincount(index, minlength=num_classes ** 2).reshape(
        num_classes, num_classes).cpu()


def _listed(ids: List[int]) -> str:
    return f'{ids[:5]}{" ..." if len(ids) > 5 else ""}'


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
