"""Metrics (registered on import)."""
from .pixel_metrics import PairedImageMetric
from .segmentation_metrics import (SegmentationMetric, confusion_matrix,
                                   scores_from_confusion)

__all__ = ['PairedImageMetric', 'SegmentationMetric', 'confusion_matrix',
           'scores_from_confusion']
