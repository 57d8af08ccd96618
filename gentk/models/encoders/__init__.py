"""Encoders: importing this package registers them in ``MODELS``."""
from .instance_feature_encoder import InstanceFeatureEncoder

__all__ = ['InstanceFeatureEncoder']
