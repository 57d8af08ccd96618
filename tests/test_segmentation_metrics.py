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
    metric.process(None, [{'pred_label': PRED, 'gt_label': LABEL}])
    # (label, pred) pairs (2, 2), (0, 2), (1, 1), (0, 0): with the first
    # batch's matrix the sum is [[2, 0, 1], [1, 3, 0], [0, 0, 2]].
    metric.process(None, [{'pred_label': torch.tensor([[2, 2], [1, 0]]),
                           'gt_label': torch.tensor([[2, 0], [1, 0]])}])
    out = metric.evaluate(2)
    # IoU: a 2/(3+3-2), b 3/(4+3-3), c 2/(2+3-2); either batch alone differs.
    assert out['seg/IoU.a'] == pytest.approx(1 / 2)
    assert out['seg/IoU.b'] == pytest.approx(3 / 4)
    assert out['seg/IoU.c'] == pytest.approx(2 / 3)
    assert out['seg/mIoU'] == pytest.approx((1 / 2 + 3 / 4 + 2 / 3) / 3)
    assert out['seg/aAcc'] == pytest.approx(7 / 9)   # 5 + 4 scored pixels


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match='differ in shape'):
        confusion_matrix(PRED, LABEL[:1], 3)


def test_labels_outside_the_class_range_are_an_error():
    """Labels equal to num_classes (one past the last class), above it or
    negative are an error naming them: they come from another id space."""
    pred = torch.tensor([[0, 1, 2, 2], [1, 0, 2, 1]])
    for bad in (3, 7, -1):
        label = torch.tensor([[0, bad, 2, 1], [255, 0, 2, 1]])
        with pytest.raises(ValueError, match=rf'label ids \[{bad}\] are outside'):
            confusion_matrix(pred, label, num_classes=3)
    label = torch.tensor([[0, 255, 2, 1], [255, 0, 2, 1]])
    assert confusion_matrix(pred, label, num_classes=3).tolist() == [
        [2, 0, 0], [0, 1, 1], [0, 0, 2]]


def test_ignore_index_inside_the_class_range():
    """With ignore_index=1 (a value that is also a valid class id), pixels
    labelled 1 are skipped; predictions of 1 elsewhere still count."""
    pred = torch.tensor([[0, 1, 1, 2], [2, 1, 0, 0]])
    label = torch.tensor([[0, 1, 0, 2], [1, 2, 1, 0]])
    # kept pixels (label, pred): (0, 0), (0, 1), (2, 2), (2, 1), (0, 0)
    expected = [[2, 1, 0],
                [0, 0, 0],
                [0, 1, 1]]
    cm = confusion_matrix(pred, label, num_classes=3, ignore_index=1)
    assert cm.tolist() == expected
    # through the metric: class 1 is never labelled, so its IoU is 0/1
    metric = SegmentationMetric(num_classes=3, ignore_index=1,
                                class_names=('a', 'b', 'c'))
    metric.process(None, [{'pred_label': pred, 'gt_label': label}])
    out = metric.evaluate(1)
    assert out['seg/aAcc'] == pytest.approx(3 / 5)
    assert out['seg/IoU.a'] == pytest.approx(2 / 3)  # 2 / (3 + 2 - 2)
    assert out['seg/IoU.b'] == pytest.approx(0.0)    # 0 / (0 + 2 - 0)
    assert out['seg/IoU.c'] == pytest.approx(1 / 2)  # 1 / (2 + 1 - 1)
    assert out['seg/mIoU'] == pytest.approx((2 / 3 + 0 + 1 / 2) / 3)


def test_predictions_outside_the_class_range_are_an_error():
    """A scored pixel predicted as class 3 or -1 with num_classes=3 is not
    clamped into class 2 (where it could count as correct): it is an error
    that names the ids and num_classes."""
    label = torch.tensor([[0, 2, 2], [1, 255, 2]])
    for bad in (3, 7, -1):
        pred = torch.tensor([[0, 2, bad], [1, 0, 2]])
        with pytest.raises(ValueError) as err:
            confusion_matrix(pred, label, num_classes=3)
        message = str(err.value)
        assert f'[{bad}]' in message and 'num_classes=3' in message
        assert 'does not score' in message
    # only a few ids are listed
    pred = torch.arange(10, 16).reshape(2, 3)
    with pytest.raises(ValueError, match=r'\[10, 11, 12, 13, 14\] \.\.\.'):
        confusion_matrix(pred, torch.zeros(2, 3, dtype=torch.long), 3)


def test_predictions_outside_the_class_range_on_skipped_pixels_pass():
    """Where the label is not scored, any prediction is fine."""
    pred = torch.tensor([[0, 9, -4], [1, 2, 19]])
    label = torch.tensor([[0, 255, 255], [1, 2, 255]])
    assert confusion_matrix(pred, label, num_classes=3).tolist() == [
        [1, 0, 0], [0, 1, 0], [0, 0, 1]]
