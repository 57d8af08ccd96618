"""Paired transforms: importing this package registers them in TRANSFORMS."""
from .check_label_ids import CheckLabelIds
from .crop import PairedRandomCrop
from .flip import PairedRandomFlip
from .formatting import PackGenInputs
from .loading import LoadPairedImages
from .map_label_ids import MapLabelIds
from .random_resize import PairedRandomResize
from .resize import PairedResize, PairedResizeToMultiple, ScaleWidth

__all__ = [
    'CheckLabelIds', 'LoadPairedImages', 'MapLabelIds', 'PackGenInputs',
    'PairedRandomCrop', 'PairedRandomFlip', 'PairedRandomResize', 'PairedResize',
    'PairedResizeToMultiple', 'ScaleWidth'
]
