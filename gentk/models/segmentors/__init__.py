"""Semantic segmentors (PSPNet) used to score generated scenes (pix2pixHD's
mIoU) and as SCGAN's third player: importing registers them in ``MODELS``."""
from .cross_entropy_loss import SegCrossEntropyLoss
from .data_preprocessor import SegDataPreprocessor
from .decode_head import DecodeHead, resize_logits
from .encoder_decoder import EncoderDecoderSegmentor, pixel_accuracy
from .fcn_head import FCNHead
from .psp_head import PSPHead

__all__ = ['DecodeHead', 'EncoderDecoderSegmentor', 'FCNHead', 'PSPHead',
           'SegCrossEntropyLoss', 'SegDataPreprocessor', 'pixel_accuracy',
           'resize_logits']
