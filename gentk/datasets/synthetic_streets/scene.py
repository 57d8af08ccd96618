"""Scene description in metres: sampled once per seed, independent of size."""
from dataclasses import dataclass
from typing import List, Optional, Tuple

import numpy as np

from .camera import Box, Camera

PARKING_WIDTH = 2.2  # a parking strip along a curb, metres


@dataclass(frozen=True)
class Street:
    """A straight street; the camera drives in the rightmost lane at X = 0."""
    lane_width: float
    lanes: int             # driving lanes, counted from the right
    oncoming: int          # how many of the leftmost lanes drive towards us
    parking_left: bool
    parking_right: bool
    sidewalk_left: float   # widths, metres
    sidewalk_right: float
    crosswalk_z: Optional[float]
    end_z: float           # where the side buildings stop
    dash_phase: float
    tile: float            # paving tile size
    asphalt: np.ndarray
    paving: np.ndarray
    grass: np.ndarray

    @property
    def road_right(self) -> float:
        """X of the right curb."""
        return self.lane_width / 2 + PARKING_WIDTH * self.parking_right

    @property
    def road_left(self) -> float:
        """X of the left curb (negative)."""
        parking = PARKING_WIDTH * self.parking_left
        return -(self.lane_width * (self.lanes - 0.5) + parking)

    def lane_centre(self, lane: int) -> float:
        return -lane * self.lane_width

    @property
    def dashed_lines(self) -> Tuple[float, ...]:
        """Between lanes of one direction."""
        return tuple(self.lane_centre(k) + self.lane_width / 2
                     for k in range(1, self.lanes) if k != self.lanes - self.oncoming)

    @property
    def solid_lines(self) -> Tuple[float, ...]:
        """Between the two directions, and along curbs without parking."""
        lines = []
        if 0 < self.oncoming < self.lanes:
            first_oncoming = self.lanes - self.oncoming
            lines.append(self.lane_centre(first_oncoming) + self.lane_width / 2)
        if not self.parking_right:
            lines.append(self.road_right - 0.3)
        if not self.parking_left:
            lines.append(self.road_left + 0.3)
        return tuple(lines)


@dataclass(frozen=True)
class Lighting:
    sun_x: float           # -1: sun from the left, 1: from the right
    front: float           # brightness of faces looking at the camera
    exposure: float
    tint: np.ndarray
    gradient: float        # left-right brightness ramp across the photo
    haze_m: float          # visibility for aerial perspective
    zenith: np.ndarray
    horizon: np.ndarray
    cloudiness: float

    def side_brightness(self, normal_x):
        """Brightness of an upright face whose normal points to ``normal_x``."""
        return 0.8 + 0.2 * self.sun_x * normal_x


@dataclass(frozen=True)
class Building:
    box: Box
    colour: np.ndarray
    bay: float             # window pitch along the facade
    storey: float
    ground_floor: float
    window_w: float        # fractions of bay / storey
    window_h: float
    shop: bool
    phase: float


@dataclass(frozen=True)
class Car:
    x: float               # centre
    z: float               # nearest end
    length: float
    width: float
    body_h: float
    cabin_h: float
    cabin_from: float      # fractions of the length, from the near end
    cabin_to: float
    facing_away: bool      # rear (tail lights) towards the camera
    colour: np.ndarray

    @property
    def body(self) -> Box:
        return Box(self.x - self.width / 2, self.x + self.width / 2, 0.0,
                   self.body_h, self.z, self.z + self.length)

    @property
    def cabin(self) -> Box:
        inset = 0.1 * self.width
        return Box(self.x - self.width / 2 + inset, self.x + self.width / 2 - inset,
                   self.body_h, self.body_h + self.cabin_h,
                   self.z + self.cabin_from * self.length,
                   self.z + self.cabin_to * self.length)


@dataclass(frozen=True)
class Person:
    x: float
    z: float
    height: float
    side_view: bool
    stride: float          # leg spread, fraction of the height
    swing: float           # arm swing
    skin: np.ndarray
    hair: np.ndarray
    top: np.ndarray
    trousers: np.ndarray


@dataclass(frozen=True)
class Tree:
    x: float
    z: float
    height: float
    crown_rx: float
    crown_ry: float
    colour: np.ndarray
    offset: float          # decorrelates the crowns' noise


@dataclass(frozen=True)
class Hedge:
    box: Box
    colour: np.ndarray


@dataclass(frozen=True)
class Pole:
    x: float
    z: float
    height: float
    radius: float
    arm: float             # signed lamp arm length (0: no arm)


@dataclass(frozen=True)
class Sign:
    x: float
    z: float
    height: float          # top of the plate
    shape: str             # 'round', 'triangle' or 'square'
    colour: np.ndarray


@dataclass(frozen=True)
class TrafficLight:
    x: float
    z: float
    height: float
    lit: int               # 0 red, 1 amber, 2 green


@dataclass(frozen=True)
class StreetScene:
    camera: Camera
    street: Street
    lighting: Lighting
    noise: np.ndarray      # texture lattice shared by every surface
    buildings: List[Building]
    hedges: List[Hedge]
    trees: List[Tree]
    poles: List[Pole]
    signs: List[Sign]
    lights: List[TrafficLight]
    cars: List[Car]
    people: List[Person]
