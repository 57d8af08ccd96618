"""Metrics (registered on import)."""
from .generated_segmentation import (GeneratedSegmentationScores,
                                     SpatialConsistencyAccuracy)
from .pixel_metrics import PairedImageMetric
from .segmentation_metrics import (SegmentationMetric, confusion_matrix,
                                   scores_from_confusion)

__all__ = ['GeneratedSegmentationScores', 'SpatialConsistencyAccuracy',
           'PairedImageMetric', 'SegmentationMetric', 'confusion_matrix',
           'scores_from_confusion']
