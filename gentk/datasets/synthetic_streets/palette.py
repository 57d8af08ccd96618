"""What the renderer paints: Cityscapes label ids and photo colours."""
import numpy as np

from ..cityscapes_labels import LABEL_ID

ROAD, SIDEWALK, BUILDING = LABEL_ID['road'], LABEL_ID['sidewalk'], LABEL_ID['building']
POLE, TRAFFIC_LIGHT = LABEL_ID['pole'], LABEL_ID['traffic light']
TRAFFIC_SIGN, VEGETATION = LABEL_ID['traffic sign'], LABEL_ID['vegetation']
TERRAIN, SKY = LABEL_ID['terrain'], LABEL_ID['sky']
PERSON, CAR = LABEL_ID['person'], LABEL_ID['car']


def srgb(*values) -> np.ndarray:
    """A photo colour, RGB in [0, 1], as float32."""
    return np.array(values, dtype=np.float32)


# Plausible photo colours (RGB in [0, 1]); deliberately not the label palette.
CAR_COLOURS = (srgb(.86, .86, .84), srgb(.62, .64, .66), srgb(.09, .09, .1),
               srgb(.32, .33, .36), srgb(.58, .09, .08), srgb(.1, .2, .45),
               srgb(.2, .38, .6), srgb(.74, .68, .52), srgb(.16, .32, .2),
               srgb(.85, .62, .12))
FACADE_COLOURS = (srgb(.8, .74, .62), srgb(.72, .72, .7), srgb(.62, .36, .28),
                  srgb(.86, .85, .8), srgb(.82, .7, .46), srgb(.48, .48, .5),
                  srgb(.74, .62, .56), srgb(.6, .64, .6))
SKIN_COLOURS = (srgb(.93, .76, .64), srgb(.8, .6, .45), srgb(.55, .38, .26),
                srgb(.36, .24, .17))
HAIR_COLOURS = (srgb(.08, .06, .05), srgb(.3, .2, .12), srgb(.7, .6, .4),
                srgb(.5, .5, .5))
CLOTH_COLOURS = (srgb(.12, .14, .2), srgb(.2, .2, .22), srgb(.55, .1, .1),
                 srgb(.85, .85, .82), srgb(.2, .35, .55), srgb(.45, .4, .3),
                 srgb(.3, .45, .25), srgb(.7, .55, .2), srgb(.5, .25, .45))
GLASS = srgb(.12, .15, .19)
SKY_REFLECTION = srgb(.5, .56, .64)
LANE_PAINT = srgb(.85, .85, .82)
CURB = srgb(.68, .68, .66)
TYRE = srgb(.05, .05, .05)
TRUNK = srgb(.3, .22, .15)
METAL = srgb(.5, .52, .54)
