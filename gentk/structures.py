"""The per-sample record that travels beside the tensors."""
from mmengine.structures import BaseDataElement


class GenDataSample(BaseDataElement):
    """Metainfo of one sample (paths, shapes, sample_idx, flip) and, after
    generation, its outputs as data fields (e.g. ``fake_img``)."""
