import math

import pytest
import torch

from gentk.evaluation import (SegmentationMetric, confusion_matrix,
                              scores_from_confusion)

PRED = torch.tensor([[0, 0, 1], [1, 2, 2]])
LABEL = torch.tensor([[0, 1, 1], [1, 2, 255]])


def test_confusion_matrix_by_hand():
    cm = confusion_matrix(PRED, LABEL, num_classes=3)
    assert cm.tolist() == [[1, 0, 0], [1, 2, 0], [0, 0, 1]]


def test_scores_against_hand_computation():
    # IoU: class 0: 1/(1+2-1)=1/2, class 1: 2/(3+2-2)=2/3, class 2: 1; class 3
    # never appears (no IoU, left out of the mean).
    scores = scores_from_confusion(confusion_matrix(PRED, LABEL, num_classes=4))
    assert scores['IoU'][:3] == pytest.approx([0.5, 2 / 3, 1.0])
    assert math.isnan(scores['IoU'][3])
    assert scores['mIoU'] == pytest.approx((0.5 + 2 / 3 + 1) / 3)
    assert scores['aAcc'] == pytest.approx(4 / 5)
    assert scores['mAcc'] == pytest.approx((1 + 2 / 3 + 1) / 3)


def test_metric_streams_and_sums_batches():
    metric = SegmentationMetric(num_classes=3, class_names=('a', 'b', 'c'))
    for _ in range(3):
        metric.process(None, [{'pred_label': PRED, 'gt_label': LABEL}])
    out = metric.evaluate(3)
    assert out['seg/mIoU'] == pytest.approx((0.5 + 2 / 3 + 1) / 3)
    assert out['seg/IoU.b'] == pytest.approx(2 / 3)


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match='differ in shape'):
        confusion_matrix(PRED, LABEL[:1], 3)
