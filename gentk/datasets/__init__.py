"""Datasets: importing this package registers every dataset and transform."""
from . import transforms  # noqa: F401
