"""Metrics (registered on import)."""
from .pixel_metrics import PairedImageMetric

__all__ = ['PairedImageMetric']
