"""The Cityscapes label table: label ids, train ids, names and colours.

pix2pixHD feeds the 35 label ids (0..34, one-hot) to the generator; the
segmentation benchmark scores the 19 train ids and ignores the rest (255).
"""
from typing import NamedTuple

import numpy as np


class CityscapesLabel(NamedTuple):
    id: int
    name: str
    train_id: int
    color: tuple
    has_instances: bool


IGNORE_INDEX = 255

LABELS = (
    CityscapesLabel(0, 'unlabeled', 255, (0, 0, 0), False),
    CityscapesLabel(1, 'ego vehicle', 255, (0, 0, 0), False),
    CityscapesLabel(2, 'rectification border', 255, (0, 0, 0), False),
    CityscapesLabel(3, 'out of roi', 255, (0, 0, 0), False),
    CityscapesLabel(4, 'static', 255, (0, 0, 0), False),
    CityscapesLabel(5, 'dynamic', 255, (111, 74, 0), False),
    CityscapesLabel(6, 'ground', 255, (81, 0, 81), False),
    CityscapesLabel(7, 'road', 0, (128, 64, 128), False),
    CityscapesLabel(8, 'sidewalk', 1, (244, 35, 232), False),
    CityscapesLabel(9, 'parking', 255, (250, 170, 160), False),
    CityscapesLabel(10, 'rail track', 255, (230, 150, 140), False),
    CityscapesLabel(11, 'building', 2, (70, 70, 70), False),
    CityscapesLabel(12, 'wall', 3, (102, 102, 156), False),
    CityscapesLabel(13, 'fence', 4, (190, 153, 153), False),
    CityscapesLabel(14, 'guard rail', 255, (180, 165, 180), False),
    CityscapesLabel(15, 'bridge', 255, (150, 100, 100), False),
    CityscapesLabel(16, 'tunnel', 255, (150, 120, 90), False),
    CityscapesLabel(17, 'pole', 5, (153, 153, 153), False),
    CityscapesLabel(18, 'polegroup', 255, (153, 153, 153), False),
    CityscapesLabel(19, 'traffic light', 6, (250, 170, 30), False),
    CityscapesLabel(20, 'traffic sign', 7, (220, 220, 0), False),
    CityscapesLabel(21, 'vegetation', 8, (107, 142, 35), False),
    CityscapesLabel(22, 'terrain', 9, (152, 251, 152), False),
    CityscapesLabel(23, 'sky', 10, (70, 130, 180), False),
    CityscapesLabel(24, 'person', 11, (220, 20, 60), True),
    CityscapesLabel(25, 'rider', 12, (255, 0, 0), True),
    CityscapesLabel(26, 'car', 13, (0, 0, 142), True),
    CityscapesLabel(27, 'truck', 14, (0, 0, 70), True),
    CityscapesLabel(28, 'bus', 15, (0, 60, 100), True),
    CityscapesLabel(29, 'caravan', 255, (0, 0, 90), True),
    CityscapesLabel(30, 'trailer', 255, (0, 0, 110), True),
    CityscapesLabel(31, 'train', 16, (0, 80, 100), True),
    CityscapesLabel(32, 'motorcycle', 17, (0, 0, 230), True),
    CityscapesLabel(33, 'bicycle', 18, (119, 11, 32), True),
)

#: pix2pixHD's input has 35 channels: ids 0..34 (34 is never used by the
#: official label images but is part of the published input size).
NUM_LABEL_IDS = 35
NUM_TRAIN_IDS = 19

LABEL_ID = {label.name: label.id for label in LABELS}

LABEL_ID_NAMES = tuple(label.name for label in LABELS) + ('license plate',)
LABEL_ID_PALETTE = tuple(label.color for label in LABELS) + ((0, 0, 142),)

TRAIN_ID_NAMES = tuple(
    label.name for label in sorted(
        (lb for lb in LABELS if lb.train_id != 255), key=lambda lb: lb.train_id))
TRAIN_ID_PALETTE = tuple(
    label.color for label in sorted(
        (lb for lb in LABELS if lb.train_id != 255), key=lambda lb: lb.train_id))


def label_id_to_train_id_lut() -> np.ndarray:
    """A 256-entry lookup table mapping label ids to train ids (255: ignore)."""
    lut = np.full(256, IGNORE_INDEX, dtype=np.uint8)
    for label in LABELS:
        lut[label.id] = label.train_id
    return lut
