"""Datasets: importing this package registers every dataset and transform."""
from . import transforms  # noqa: F401
from .cityscapes import CityscapesDataset  # noqa: F401
from .paired_folder import PairedFolderDataset  # noqa: F401
from .synthetic_streets import SyntheticStreetDataset  # noqa: F401
