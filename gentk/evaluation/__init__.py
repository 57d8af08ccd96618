"""Metrics (registered on import)."""
from .adversarial import AdversarialAccuracyDivergence
from .domain_fid import DomainFrechetDistance
from .fid import FrechetInceptionDistance, KernelInceptionDistance
from .generated_segmentation import (GeneratedSegmentationScores,
                                     SpatialConsistencyAccuracy)
from .inception_score import InceptionScore
from .ms_ssim import MSSSIMDiversity
from .pixel_metrics import PairedImageMetric
from .segmentation_metrics import (SegmentationMetric, confusion_matrix,
                                   scores_from_confusion)
from .swd import SlicedWassersteinDistance

__all__ = [
    'AdversarialAccuracyDivergence', 'DomainFrechetDistance',
    'FrechetInceptionDistance', 'GeneratedSegmentationScores', 'InceptionScore',
    'KernelInceptionDistance', 'MSSSIMDiversity', 'PairedImageMetric',
    'SegmentationMetric', 'SlicedWassersteinDistance',
    'SpatialConsistencyAccuracy', 'confusion_matrix', 'scores_from_confusion',
]
