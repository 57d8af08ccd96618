"""Procedural street scenes in Cityscapes conventions: the built-in dataset.

Every config runs on :class:`SyntheticStreetDataset` when no real data is
present. A scene is sampled in metres (a pinhole camera 1.5 m above a flat
street lined with buildings, trees, poles, cars and people) and every object
is ray cast against the camera's rays, with a depth buffer deciding who is in
front. Sampling never looks at the resolution, and textures live in world
coordinates, so one seed gives the same scene at 64x32 and at 2048x1024.

Outputs follow Cityscapes: ``label`` holds label ids (0..33), ``inst`` holds
``label_id * 1000 + k`` on car/person pixels and the plain label id elsewhere,
and ``img`` is an RGB photo whose colours and textures follow the labels
(asphalt and lane marks on road, windows on buildings, a body colour per car
with a dark outline between instances) so label -> photo is learnable.
"""
from dataclasses import dataclass
from typing import List, NamedTuple, Optional, Sequence, Tuple

import numpy as np
from mmengine.dataset import BaseDataset

from ..registry import DATASETS, TRANSFORMS
from .cityscapes import cityscapes_metainfo
from .cityscapes_labels import (LABEL_ID, LABEL_ID_NAMES, LABEL_ID_PALETTE,
                                NUM_LABEL_IDS, NUM_TRAIN_IDS,
                                label_id_to_train_id_lut)

ROAD, SIDEWALK, BUILDING = LABEL_ID['road'], LABEL_ID['sidewalk'], LABEL_ID['building']
POLE, TRAFFIC_LIGHT = LABEL_ID['pole'], LABEL_ID['traffic light']
TRAFFIC_SIGN, VEGETATION = LABEL_ID['traffic sign'], LABEL_ID['vegetation']
TERRAIN, SKY = LABEL_ID['terrain'], LABEL_ID['sky']
PERSON, CAR = LABEL_ID['person'], LABEL_ID['car']

#: Rays closer than this (metres) are ignored: it keeps projections finite.
NEAR_PLANE = 0.05
FACE_X, FACE_Y, FACE_Z = 0, 1, 2  # which slab of a box a ray enters through


def _rgb(*values) -> np.ndarray:
    return np.array(values, dtype=np.float32)


# Plausible photo colours (RGB in [0, 1]); deliberately not the label palette.
CAR_COLOURS = (_rgb(.86, .86, .84), _rgb(.62, .64, .66), _rgb(.09, .09, .1),
               _rgb(.32, .33, .36), _rgb(.58, .09, .08), _rgb(.1, .2, .45),
               _rgb(.2, .38, .6), _rgb(.74, .68, .52), _rgb(.16, .32, .2),
               _rgb(.85, .62, .12))
FACADE_COLOURS = (_rgb(.8, .74, .62), _rgb(.72, .72, .7), _rgb(.62, .36, .28),
                  _rgb(.86, .85, .8), _rgb(.82, .7, .46), _rgb(.48, .48, .5),
                  _rgb(.74, .62, .56), _rgb(.6, .64, .6))
SKIN_COLOURS = (_rgb(.93, .76, .64), _rgb(.8, .6, .45), _rgb(.55, .38, .26),
                _rgb(.36, .24, .17))
HAIR_COLOURS = (_rgb(.08, .06, .05), _rgb(.3, .2, .12), _rgb(.7, .6, .4),
                _rgb(.5, .5, .5))
CLOTH_COLOURS = (_rgb(.12, .14, .2), _rgb(.2, .2, .22), _rgb(.55, .1, .1),
                 _rgb(.85, .85, .82), _rgb(.2, .35, .55), _rgb(.45, .4, .3),
                 _rgb(.3, .45, .25), _rgb(.7, .55, .2), _rgb(.5, .25, .45))
GLASS = _rgb(.12, .15, .19)
SKY_REFLECTION = _rgb(.5, .56, .64)
LANE_PAINT = _rgb(.85, .85, .82)
CURB = _rgb(.68, .68, .66)
TYRE = _rgb(.05, .05, .05)
TRUNK = _rgb(.3, .22, .15)
METAL = _rgb(.5, .52, .54)


# --------------------------------------------------------------------------
# Small vectorised helpers
# --------------------------------------------------------------------------

def value_noise(table: np.ndarray, u, v) -> np.ndarray:
    """Smooth lattice noise in [0, 1] at float coordinates; the table tiles.

    ``u`` and ``v`` broadcast against each other, so a row vector and a column
    vector give a full image without building coordinate grids.
    """
    size = table.shape[0]  # a power of two, so ``& (size - 1)`` wraps
    fu, fv = np.floor(u), np.floor(v)
    su, sv = u - fu, v - fv
    su, sv = su * su * (3 - 2 * su), sv * sv * (3 - 2 * sv)
    iu = fu.astype(np.int64) & (size - 1)
    iv = fv.astype(np.int64) & (size - 1)
    iu1, iv1 = (iu + 1) & (size - 1), (iv + 1) & (size - 1)
    top = table[iv, iu] + (table[iv, iu1] - table[iv, iu]) * su
    bottom = table[iv1, iu] + (table[iv1, iu1] - table[iv1, iu]) * su
    return top + (bottom - top) * sv


def cell_random(table: np.ndarray, u, v) -> np.ndarray:
    """One random value in [0, 1] per integer cell (a tile, a window)."""
    mask = table.shape[0] - 1
    return table[np.floor(v).astype(np.int64) & mask,
                 np.floor(u).astype(np.int64) & mask]


def segment_distance(u, v, start, end) -> np.ndarray:
    """Distance from points (u, v) to the segment start-end (capsule shapes)."""
    du, dv = end[0] - start[0], end[1] - start[1]
    t = ((u - start[0]) * du + (v - start[1]) * dv) / (du * du + dv * dv + 1e-9)
    t = np.clip(t, 0.0, 1.0)
    return np.hypot(u - start[0] - t * du, v - start[1] - t * dv)


def fractional(x) -> np.ndarray:
    return x - np.floor(x)


def smoothstep(lo: float, hi: float, x) -> np.ndarray:
    t = np.clip((x - lo) / (hi - lo), 0.0, 1.0)
    return t * t * (3 - 2 * t)


def paint_where(rgb: np.ndarray, mask: np.ndarray, colour) -> np.ndarray:
    """``rgb`` with ``colour`` (an RGB triple or an image) where ``mask``."""
    return np.where(mask[..., None], colour, rgb)


# --------------------------------------------------------------------------
# Camera, rays and the depth-buffered canvas
# --------------------------------------------------------------------------

@dataclass(frozen=True)
class Camera:
    """A level pinhole camera in relative image units (resolution free)."""
    focal: float       # focal length / image width
    horizon: float     # horizon row / image height
    centre: float      # vanishing point column / image width
    height_m: float    # above the road, metres


class Bounds(NamedTuple):
    """A screen rectangle ``[r0, r1) x [c0, c1)``."""
    r0: int
    r1: int
    c0: int
    c1: int

    @property
    def slices(self) -> Tuple[slice, slice]:
        return slice(self.r0, self.r1), slice(self.c0, self.c1)


class Rays:
    """The camera's rays at one resolution, scaled to unit depth (dz = 1).

    A ray's X only depends on its column and its Y only on its row, so every
    plane intersection below is an outer product of two short vectors.
    """

    def __init__(self, camera: Camera, height: int, width: int):
        self.height, self.width = height, width
        self.cam_y = camera.height_m
        self.focal = camera.focal * width
        self.cx, self.cy = camera.centre * width, camera.horizon * height
        cols, rows = np.arange(width) + 0.5, np.arange(height) + 0.5
        self.ray_x = ((cols - self.cx) / self.focal).astype(np.float32)
        self.ray_y = ((self.cy - rows) / self.focal).astype(np.float32)

    def bounds(self, x0, x1, y0, y1, z0, z1) -> Optional[Bounds]:
        """Screen rectangle covering a world box, or None when off screen."""
        z0 = max(z0, NEAR_PLANE)
        if z1 < z0:
            return None
        zs = np.array([z0, z1])
        cols = self.cx + self.focal * np.array([[x0], [x1]]) / zs
        rows = self.cy - self.focal * (np.array([[y0], [y1]]) - self.cam_y) / zs
        c0 = max(int(np.floor(cols.min())), 0)
        c1 = min(int(np.ceil(cols.max())) + 1, self.width)
        r0 = max(int(np.floor(rows.min())), 0)
        r1 = min(int(np.ceil(rows.max())) + 1, self.height)
        if c0 >= c1 or r0 >= r1:
            return None
        return Bounds(r0, r1, c0, c1)

    def billboard(self, bounds: Bounds, x: float, z: float):
        """Metric coordinates on the upright plane at depth ``z``.

        Returns ``u`` (1, w): metres right of ``x``; ``v`` (h, 1): metres
        above the road.
        """
        u = self.ray_x[bounds.c0:bounds.c1] * z - x
        v = self.cam_y + self.ray_y[bounds.r0:bounds.r1] * z
        return u[None, :], v[:, None]


@dataclass(frozen=True)
class Box:
    """An axis-aligned box in metres: X right, Y up, Z forward."""
    x0: float
    x1: float
    y0: float
    y1: float
    z0: float
    z1: float

    def screen_bounds(self, rays: Rays) -> Optional[Bounds]:
        return rays.bounds(self.x0, self.x1, self.y0, self.y1, self.z0, self.z1)


class BoxHit(NamedTuple):
    mask: np.ndarray   # (h, w) rays that hit the box
    depth: np.ndarray  # (h, w) entry depth == hit Z
    face: np.ndarray   # (h, w) FACE_X / FACE_Y / FACE_Z
    x: np.ndarray      # (h, w) hit X
    y: np.ndarray      # (h, w) hit Y


def cast_box(rays: Rays, bounds: Bounds, box: Box) -> BoxHit:
    """Slab test of every ray in ``bounds`` against ``box``."""
    ray_x = rays.ray_x[bounds.c0:bounds.c1]
    ray_y = rays.ray_y[bounds.r0:bounds.r1]
    with np.errstate(divide='ignore', invalid='ignore'):
        tx = np.stack([box.x0 / ray_x, box.x1 / ray_x])
        ty = np.stack([(box.y0 - rays.cam_y) / ray_y, (box.y1 - rays.cam_y) / ray_y])
    tx_near, tx_far = tx.min(0)[None, :], tx.max(0)[None, :]
    ty_near, ty_far = ty.min(0)[:, None], ty.max(0)[:, None]
    near = np.maximum(np.maximum(tx_near, ty_near), np.float32(box.z0))
    far = np.minimum(np.minimum(tx_far, ty_far), np.float32(box.z1))
    mask = (near < far) & (near > NEAR_PLANE)
    face = np.where(near == ty_near, FACE_Y, np.where(near == tx_near, FACE_X, FACE_Z))
    x = ray_x[None, :] * near
    y = rays.cam_y + ray_y[:, None] * near
    return BoxHit(mask, near, face, x, y)


class Canvas:
    """Depth-buffered label, instance and colour layers.

    Painters first ``claim`` the pixels where their object is nearer than
    what is there, then colour only those. Objects may come in any order;
    nearest-first makes the claims smallest, so hidden surfaces cost nothing.
    """

    def __init__(self, height: int, width: int):
        self.depth = np.full((height, width), np.inf, dtype=np.float32)
        self.label = np.full((height, width), SKY, dtype=np.uint8)
        self.inst = np.full((height, width), SKY, dtype=np.int32)
        self.rgb = np.zeros((height, width, 3), dtype=np.float32)

    def claim(self, bounds: Bounds, mask, depth) -> Optional[np.ndarray]:
        """Pixels of ``mask`` in front of the canvas; None when none are."""
        win = mask & (depth < self.depth[bounds.slices])
        return win if win.any() else None

    def fill(self, bounds: Bounds, win, depth, label, inst, rgb) -> None:
        """Write values already selected with ``win`` (or constants)."""
        rows, cols = bounds.slices
        self.depth[rows, cols][win] = depth
        self.label[rows, cols][win] = label
        self.inst[rows, cols][win] = inst
        self.rgb[rows, cols][win] = rgb


def at(win: np.ndarray, *arrays):
    """Each array (broadcastable to ``win``) at the claimed pixels, as 1-D."""
    return tuple(np.broadcast_to(a, win.shape)[win] for a in arrays)


# --------------------------------------------------------------------------
# Scene description (metres); sampled once per seed, independent of size
# --------------------------------------------------------------------------

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


def _pick(rng: np.random.Generator, options: Sequence[np.ndarray], jitter=0.04):
    colour = options[int(rng.integers(len(options)))]
    return np.clip(colour + rng.uniform(-jitter, jitter, 3), 0, 1).astype(np.float32)


def _u(rng: np.random.Generator, lo: float, hi: float) -> float:
    # Python floats keep the float32 images float32 under NumPy's promotion.
    return float(rng.uniform(lo, hi))


def sample_street(rng: np.random.Generator) -> Street:
    lanes = int(rng.integers(2, 5))
    return Street(
        lane_width=_u(rng, 2.9, 3.5), lanes=lanes, oncoming=lanes // 2,
        parking_left=bool(rng.random() < 0.6), parking_right=bool(rng.random() < 0.8),
        sidewalk_left=_u(rng, 2.0, 5.0), sidewalk_right=_u(rng, 2.0, 5.0),
        crosswalk_z=_u(rng, 14, 30) if rng.random() < 0.45 else None,
        end_z=_u(rng, 60, 140), dash_phase=_u(rng, 0, 9), tile=_u(rng, 0.4, 1.0),
        asphalt=_rgb(*[_u(rng, .28, .36)] * 3),  # neutral grey
        paving=_pick(rng, (_rgb(.62, .6, .56), _rgb(.56, .56, .58),
                           _rgb(.66, .58, .52))),
        grass=_pick(rng, (_rgb(.32, .42, .18), _rgb(.4, .44, .22), _rgb(.45, .4, .28))))


def sample_lighting(rng: np.random.Generator) -> Lighting:
    overcast = rng.random() < 0.3
    if overcast:
        zenith, horizon = _rgb(.66, .7, .76), _rgb(.82, .84, .86)
    else:
        zenith = _rgb(_u(rng, .22, .38), _u(rng, .45, .58), _u(rng, .78, .92))
        horizon = _rgb(.76, .83, .9)
    return Lighting(
        sun_x=float(rng.choice([-1.0, 1.0])) * _u(rng, 0.4, 1.0),
        front=_u(rng, 0.72, 0.95), exposure=_u(rng, 0.88, 1.1),
        tint=(1 + rng.uniform(-0.04, 0.04, 3)).astype(np.float32),
        gradient=_u(rng, -0.15, 0.15), haze_m=_u(rng, 250, 700),
        zenith=zenith, horizon=horizon,
        cloudiness=0.0 if overcast else _u(rng, 0.0, 0.9))


def _sample_building(rng, x_face: float, left: bool, z0: float, z1: float,
                     setback: float, height: float) -> Building:
    depth = 20.0
    if left:
        box = Box(x_face - setback - depth, x_face - setback, 0.0, height, z0, z1)
    else:
        box = Box(x_face + setback, x_face + setback + depth, 0.0, height, z0, z1)
    storey = _u(rng, 2.9, 3.6)
    return Building(
        box=box, colour=_pick(rng, FACADE_COLOURS), bay=_u(rng, 1.8, 3.2),
        storey=storey, ground_floor=storey + _u(rng, 0.3, 1.2),
        window_w=_u(rng, 0.35, 0.6), window_h=_u(rng, 0.4, 0.6),
        shop=bool(rng.random() < 0.5), phase=_u(rng, 0, 3))


def sample_buildings(rng, street: Street,
                     terrain: Tuple[float, float]) -> List[Building]:
    """Rows of buildings along both sides and, often, across the far end."""
    buildings = []
    for left in (True, False):
        if left:
            x_face = street.road_left - street.sidewalk_left - terrain[0]
        else:
            x_face = street.road_right + street.sidewalk_right + terrain[1]
        z = -10.0
        while z < street.end_z:
            length = _u(rng, 8, 26)
            if rng.random() < 0.12 and z > 10:  # a gap shows the sky
                z += _u(rng, 4, 12)
                continue
            setback = 0.0 if rng.random() < 0.75 else _u(rng, 0.8, 4)
            buildings.append(_sample_building(
                rng, x_face, left, z, min(z + length, street.end_z),
                setback, _u(rng, 7, 28)))
            z += length
    if rng.random() < 0.75:
        far = street.end_z + _u(rng, 12, 25)
        x = -90.0
        while x < 90:
            width = _u(rng, 10, 30)
            buildings.append(Building(
                box=Box(x, x + width, 0.0, _u(rng, 6, 30), far, far + 15),
                colour=_pick(rng, FACADE_COLOURS), bay=_u(rng, 1.8, 3.2),
                storey=3.2, ground_floor=4.0, window_w=0.45, window_h=0.5,
                shop=False, phase=_u(rng, 0, 3)))
            x += width
    return buildings


def sample_vegetation(rng, street: Street, terrain: Tuple[float, float]):
    """Rows of trees along the curbs and hedges along grass strips."""
    trees, hedges = [], []
    for sign, sidewalk, strip, curb in (
            (-1, street.sidewalk_left, terrain[0], street.road_left),
            (1, street.sidewalk_right, terrain[1], street.road_right)):
        if strip > 0 and rng.random() < 0.5:
            inner = curb + sign * (sidewalk + strip - 0.1)
            hedges.append(Hedge(
                Box(min(inner, inner - sign * 0.9), max(inner, inner - sign * 0.9),
                    0.0, _u(rng, 0.7, 1.3), _u(rng, 0, 10), _u(rng, 25, street.end_z)),
                _pick(rng, (_rgb(.2, .34, .13), _rgb(.26, .38, .16)))))
        if rng.random() < 0.6:
            # Trees stand in the grass strip, or near the curb on the sidewalk.
            offset = sidewalk + strip / 2 if strip > 0 else _u(rng, 0.6, 1.0)
            z = _u(rng, 4, 14)
            while z < street.end_z:
                height = _u(rng, 5, 11)
                trees.append(Tree(
                    x=curb + sign * offset, z=z, height=height,
                    crown_rx=height * _u(rng, 0.2, 0.32),
                    crown_ry=height * _u(rng, 0.25, 0.35),
                    colour=_pick(rng, (_rgb(.24, .36, .14), _rgb(.3, .42, .16),
                                       _rgb(.2, .3, .12), _rgb(.36, .44, .2))),
                    offset=_u(rng, 0, 64)))
                z += _u(rng, 7, 15)
    return trees, hedges


def sample_street_furniture(rng, street: Street):
    """Lamp posts, signs and (at a crosswalk) traffic lights at the curbs."""
    poles, signs, lights = [], [], []
    for sign, curb in ((-1, street.road_left), (1, street.road_right)):
        if rng.random() < 0.7:
            z = _u(rng, 6, 25)
            while z < street.end_z:
                poles.append(Pole(curb + sign * 0.4, z, _u(rng, 6, 8.5),
                                  _u(rng, 0.08, 0.13), -sign * _u(rng, 0.8, 1.6)))
                z += _u(rng, 18, 32)
    for _ in range(int(rng.integers(0, 4))):
        side = rng.random() < 0.5
        curb, sign = (street.road_left, -1) if side else (street.road_right, 1)
        shape = str(rng.choice(['round', 'triangle', 'square']))
        colour = _rgb(.1, .25, .6) if shape == 'square' or rng.random() < 0.3 \
            else _rgb(.75, .08, .08)
        signs.append(Sign(curb + sign * 0.5, _u(rng, 6, 40), _u(rng, 2.4, 3.2),
                          shape, colour))
    if street.crosswalk_z is not None:
        lit = int(rng.integers(3))
        for x in (street.road_left - 0.5, street.road_right + 0.5):
            lights.append(TrafficLight(x, street.crosswalk_z - 0.5,
                                       _u(rng, 3.2, 4.2), lit))
    return poles, signs, lights


def _sample_car(rng, x: float, z: float, facing_away: bool) -> Car:
    kind = rng.random()
    if kind < 0.6:     # saloon / hatchback
        length, body_h = _u(rng, 3.9, 4.8), _u(rng, 0.75, 0.9)
        cabin_h = _u(rng, 0.5, 0.6)
        cabin = (_u(rng, 0.15, 0.3), _u(rng, 0.65, 0.75))
    elif kind < 0.85:  # SUV / estate
        length, body_h = _u(rng, 4.3, 5.0), _u(rng, 0.9, 1.05)
        cabin_h = _u(rng, 0.6, 0.72)
        cabin = (_u(rng, 0.06, 0.14), _u(rng, 0.68, 0.78))
    else:              # van
        length, body_h = _u(rng, 4.8, 5.6), _u(rng, 1.0, 1.2)
        cabin_h = _u(rng, 0.8, 1.0)
        cabin = (_u(rng, 0.0, 0.04), _u(rng, 0.8, 0.88))
    if not facing_away:  # the cabin sits towards the back of the car
        cabin = (1 - cabin[1], 1 - cabin[0])
    return Car(x=x, z=z, length=length, width=_u(rng, 1.7, 1.95),
               body_h=body_h, cabin_h=cabin_h, cabin_from=cabin[0],
               cabin_to=cabin[1], facing_away=facing_away,
               colour=_pick(rng, CAR_COLOURS, 0.05))


def _car_row(rng, x: float, z: float, count: int, facing_away, max_gap: float):
    """Cars queued bumper to bumper: small gaps make them touch on screen."""
    cars = []
    for _ in range(count):
        away = facing_away if facing_away is not None else rng.random() < 0.5
        car = _sample_car(rng, x + _u(rng, -0.15, 0.15), z, away)
        cars.append(car)
        z += car.length + _u(rng, 0.2, max_gap)
    return cars


def sample_cars(rng, street: Street) -> List[Car]:
    """Parked rows along the curbs, and traffic in the lanes."""
    cars = []
    if street.parking_right:
        cars += _car_row(rng, street.road_right - 1.1, _u(rng, 4, 12),
                         int(rng.integers(2, 6)), True, 1.5)
    if street.parking_left:
        cars += _car_row(rng, street.road_left + 1.1, _u(rng, 4, 16),
                         int(rng.integers(2, 5)), None, 1.5)
    queue = not (street.parking_left or street.parking_right)
    if queue:  # no parking: a queue ahead makes cars touch instead
        cars += _car_row(rng, 0.0, _u(rng, 7, 14), int(rng.integers(2, 4)), True, 1.2)
    for lane in range(int(queue), street.lanes):
        if rng.random() < 0.6:
            towards = lane >= street.lanes - street.oncoming
            cars += _car_row(rng, street.lane_centre(lane), _u(rng, 8, 35),
                             int(rng.integers(1, 3)), not towards, 6.0)
    if street.crosswalk_z is not None:  # keep the crosswalk clear
        zc = street.crosswalk_z
        cars = [c for c in cars if c.z > zc + 5 or c.z + c.length < zc - 1]
    return cars


def _sample_person(rng, x: float, z: float) -> Person:
    return Person(
        x=x, z=z, height=_u(rng, 1.55, 1.95), side_view=bool(rng.random() < 0.5),
        stride=_u(rng, 0.0, 0.14), swing=_u(rng, -0.08, 0.08),
        skin=_pick(rng, SKIN_COLOURS, 0.03), hair=_pick(rng, HAIR_COLOURS, 0.03),
        top=_pick(rng, CLOTH_COLOURS, 0.05),
        trousers=_pick(rng, CLOTH_COLOURS[:6], 0.04))


def sample_people(rng, street: Street) -> List[Person]:
    """Groups of pedestrians walking close together on the sidewalks."""
    people = []
    for _ in range(int(rng.integers(3, 8))):
        left = rng.random() < 0.45
        if left:
            x = street.road_left - _u(rng, 0.5, street.sidewalk_left - 0.4)
        else:
            x = street.road_right + _u(rng, 0.5, street.sidewalk_right - 0.4)
        z = 4 + 30 * _u(rng, 0, 1) ** 1.5  # more of them near the camera
        for k in range(int(rng.choice([1, 1, 2, 2, 3]))):
            people.append(_sample_person(
                rng, x + k * _u(rng, 0.35, 0.6) * (1 if left else -1),
                z + _u(rng, -0.4, 0.4)))
    if street.crosswalk_z is not None:
        for _ in range(int(rng.integers(0, 4))):
            people.append(_sample_person(
                rng, _u(rng, street.road_left + 1, street.road_right - 0.5),
                street.crosswalk_z + _u(rng, 0.5, 3.5)))
    return people


def sample_scene(rng: np.random.Generator) -> StreetScene:
    camera = Camera(focal=_u(rng, 0.55, 0.85), horizon=_u(rng, 0.38, 0.5),
                    centre=_u(rng, 0.44, 0.56), height_m=_u(rng, 1.35, 1.7))
    street = sample_street(rng)
    lighting = sample_lighting(rng)
    noise = rng.random((64, 64), dtype=np.float32)
    terrain = tuple(_u(rng, 1, 3.5) if rng.random() < 0.4 else 0.0 for _ in range(2))
    buildings = sample_buildings(rng, street, terrain)
    trees, hedges = sample_vegetation(rng, street, terrain)
    poles, signs, lights = sample_street_furniture(rng, street)
    cars = sample_cars(rng, street)
    people = sample_people(rng, street)
    return StreetScene(camera, street, lighting, noise, buildings, hedges, trees,
                       poles, signs, lights, cars, people)


# --------------------------------------------------------------------------
# Painters: one per kind of object
# --------------------------------------------------------------------------

def paint_sky(canvas: Canvas, rays: Rays, light: Lighting, noise) -> None:
    """Gradient and clouds wherever nothing else was painted."""
    bounds = Bounds(0, rays.height, 0, rays.width)
    win = canvas.claim(bounds, True, np.float32(np.finfo(np.float32).max))
    if win is None:
        return
    elevation, across = at(win, np.clip(rays.ray_y, 0, None)[:, None],
                           rays.ray_x[None, :])
    t = np.clip(elevation / 0.6, 0, 1) ** 0.6
    rgb = light.horizon + (light.zenith - light.horizon) * t[:, None]
    if light.cloudiness > 0:
        # Noise on a cloud layer above the camera: clouds shrink to the horizon.
        inv = 1.0 / (elevation + 0.08)
        cloud = value_noise(noise, across * inv * 1.5 + 17.0, inv * 3.0)
        cover = smoothstep(0.55, 0.85, cloud) * light.cloudiness
        rgb = rgb + (_rgb(.93, .94, .96) - rgb) * cover[:, None]
    canvas.fill(bounds, win, np.inf, SKY, SKY, rgb)


def asphalt_colour(street: Street, x, z, noise):
    """Stained, grainy asphalt with dashed/solid lane marks and a crosswalk."""
    stains = value_noise(noise, x * 0.35, z * 0.35)
    grain = value_noise(noise, x * 4.0 + 31, z * 4.0)
    rgb = street.asphalt * (0.85 + 0.25 * stains + 0.1 * grain)[:, None]
    marks = np.zeros(x.shape, dtype=bool)
    dashes = fractional((z + street.dash_phase) / 9.0) < 0.35
    for line in street.dashed_lines:
        marks |= (np.abs(x - line) < 0.07) & dashes
    for line in street.solid_lines:
        marks |= np.abs(x - line) < 0.08
    if street.crosswalk_z is not None:
        zc = street.crosswalk_z
        marks |= (z > zc) & (z < zc + 4) & (fractional(x / 1.1) < 0.5)
    return paint_where(rgb, marks, LANE_PAINT * (0.8 + 0.2 * grain[:, None]))


def paving_colour(street: Street, x, z, footprint, noise):
    """One shade per tile; joints only where a pixel is smaller than a tile."""
    tile = street.tile
    shade = 0.9 + 0.15 * cell_random(noise, x / tile, z / tile)
    rgb = street.paving * shade[:, None]
    joint = np.minimum(fractional(x / tile), fractional(z / tile)) < 0.06
    rgb = paint_where(rgb, joint & (footprint < tile / 6), street.paving * 0.75)
    curb = (np.abs(x - street.road_left) < 0.2) | (np.abs(x - street.road_right) < 0.2)
    return paint_where(rgb, curb, CURB)


def car_shadows(cars: Sequence[Car], x, z):
    """Soft darkening of the ground under and around each car."""
    shade = np.ones(x.shape, dtype=np.float32)
    for car in cars:
        under = (z > car.z - 0.4) & (z < car.z + car.length + 0.6)
        if under.any():
            gap = car.width / 2 + 0.35 - np.abs(x[under] - car.x)
            spread = np.clip(gap / 0.35, 0, 1)
            shade[under] *= 1 - 0.6 * spread
    return shade


def paint_ground(canvas: Canvas, rays: Rays, scene: StreetScene) -> None:
    street, noise = scene.street, scene.noise
    below = np.nonzero(rays.ray_y < -1e-6)[0]
    if below.size == 0:
        return
    bounds = Bounds(int(below[0]), rays.height, 0, rays.width)
    depth = (rays.cam_y / -rays.ray_y[bounds.r0:])[:, None]  # (h, 1)
    win = canvas.claim(bounds, True, depth)
    if win is None:
        return
    z, across = at(win, depth, rays.ray_x[None, :])
    x = across * z
    road = (x > street.road_left) & (x < street.road_right)
    left, right = street.road_left, street.road_right
    sidewalk = ((x <= left) & (x > left - street.sidewalk_left)) | \
        ((x >= right) & (x < right + street.sidewalk_right))
    label = np.where(road, ROAD, np.where(sidewalk, SIDEWALK, TERRAIN)).astype(np.uint8)
    grass = value_noise(noise, x * 1.3 + 7, z * 1.3)
    rgb = street.grass * (0.75 + 0.45 * grass)[:, None]
    rgb[road] = asphalt_colour(street, x[road], z[road], noise)
    rgb[sidewalk] = paving_colour(street, x[sidewalk], z[sidewalk],
                                  z[sidewalk] / rays.focal, noise)
    rgb *= car_shadows(scene.cars, x, z)[:, None]
    canvas.fill(bounds, win, z, label, label, rgb)


def facade_colour(building: Building, a, y, noise):
    """Facade with a window grid; ``a`` runs along the facade, ``y`` upwards."""
    b = building
    weathering = value_noise(noise, a * 0.4 + b.phase * 10, y * 0.4)
    base = b.colour * (0.92 + 0.14 * weathering)[:, None]
    bay, storey = (a - b.phase) / b.bay, (y - b.ground_floor) / b.storey
    across, up = np.abs(fractional(bay) - 0.5), np.abs(fractional(storey) - 0.5)
    upper = (y > b.ground_floor) & (y < b.box.y1 - 0.8)
    frame = upper & (across < b.window_w / 2 + 0.08 / b.bay) & \
        (up < b.window_h / 2 + 0.08 / b.storey)
    window = upper & (across < b.window_w / 2) & (up < b.window_h / 2)
    # Each window gets its own reflection/curtain shade, lighter at its top.
    shade = 0.6 + 0.8 * cell_random(noise, bay + 13, storey)
    sky = 0.35 * np.clip(fractional(storey) - 0.3, 0, None)
    glass = GLASS * shade[:, None] + (SKY_REFLECTION - GLASS) * sky[:, None]
    rgb = paint_where(base, frame, np.minimum(b.colour * 1.15 + 0.1, 1.0))
    rgb = paint_where(rgb, window, glass)
    rgb = paint_where(rgb, y > b.box.y1 - 0.4, b.colour * 0.7)  # cornice
    if b.shop:
        shopfront = (y > 0.35) & (y < b.ground_floor - 0.7) & \
            (np.abs(fractional(bay / 2) - 0.5) < 0.42)
        shop_glass = GLASS * 1.3 + 0.1 * (y / b.ground_floor)[:, None]
        rgb = paint_where(rgb, shopfront, shop_glass)
    else:  # ground-floor windows above a plinth
        low_window = (y > 1.1) & (y < b.ground_floor - 0.9) & (across < b.window_w / 2)
        rgb = paint_where(rgb, low_window, glass)
        rgb = paint_where(rgb, y < 0.6, b.colour * 0.65)
    return rgb


def paint_building(canvas: Canvas, rays: Rays, b: Building, light: Lighting,
                   noise) -> None:
    bounds = b.box.screen_bounds(rays)
    if bounds is None:
        return
    hit = cast_box(rays, bounds, b.box)
    win = canvas.claim(bounds, hit.mask, hit.depth)
    if win is None:
        return
    z, x, y, face = at(win, hit.depth, hit.x, hit.y, hit.face)
    side = face == FACE_X
    rgb = facade_colour(b, np.where(side, z, x), y, noise)  # along the facade
    normal_x = np.where(x < (b.box.x0 + b.box.x1) / 2, -1.0, 1.0)
    brightness = np.where(side, light.side_brightness(normal_x), light.front)
    rgb = rgb * brightness[:, None].astype(np.float32)
    canvas.fill(bounds, win, z, BUILDING, BUILDING, rgb)


def paint_hedge(canvas: Canvas, rays: Rays, hedge: Hedge, noise) -> None:
    bounds = hedge.box.screen_bounds(rays)
    if bounds is None:
        return
    hit = cast_box(rays, bounds, hedge.box)
    ragged_top = hedge.box.y1 - 0.25 * value_noise(noise, hit.depth * 1.5, 3.0)
    win = canvas.claim(bounds, hit.mask & (hit.y < ragged_top), hit.depth)
    if win is None:
        return
    z, x, y = at(win, hit.depth, hit.x, hit.y)
    leaves = value_noise(noise, z * 3 + x * 3, y * 3 + 40)
    canvas.fill(bounds, win, z, VEGETATION, VEGETATION,
                hedge.colour * (0.7 + 0.55 * leaves)[:, None])


def paint_tree(canvas: Canvas, rays: Rays, tree: Tree, noise) -> None:
    cy = tree.height - tree.crown_ry
    bounds = rays.bounds(tree.x - tree.crown_rx * 1.3, tree.x + tree.crown_rx * 1.3,
                         0.0, tree.height + 0.3 * tree.crown_ry, tree.z, tree.z)
    if bounds is None:
        return
    u, v = rays.billboard(bounds, tree.x, tree.z)
    ellipse = (u / tree.crown_rx) ** 2 + ((v - cy) / tree.crown_ry) ** 2
    crown = ellipse < 0.7 + 0.6 * value_noise(noise, u * 1.2 + tree.offset, v * 1.2)
    trunk = (np.abs(u) < 0.09 + 0.06 * np.clip(1 - v / cy, 0, 1)) & (v < cy)
    win = canvas.claim(bounds, crown | trunk, tree.z)
    if win is None:
        return
    u, v, is_trunk = at(win, u, v, trunk & ~crown)
    leaves = value_noise(noise, u * 5 + tree.offset, v * 5)
    # Darker underneath: the crown shades itself.
    lit = 0.7 + 0.3 * np.clip((v - cy) / tree.crown_ry + 0.5, 0, 1)
    rgb = tree.colour * (lit * (0.7 + 0.6 * leaves))[:, None]
    rgb = paint_where(rgb, is_trunk, TRUNK * (0.8 + 0.4 * leaves)[:, None])
    canvas.fill(bounds, win, tree.z, VEGETATION, VEGETATION, rgb)


def _cylinder_shade(u, radius: float, light: Lighting):
    """Brightness across an upright cylinder seen from the front."""
    across = np.clip(u / radius, -1, 1)
    return 0.55 + 0.35 * np.sqrt(1 - across ** 2) + 0.15 * light.sun_x * across


def paint_post(canvas: Canvas, rays: Rays, bounds: Bounds, x: float, z: float,
               top: float, radius: float, light: Lighting) -> None:
    """The upright metal post under a sign or a traffic light."""
    u, v = rays.billboard(bounds, x, z)
    win = canvas.claim(bounds, (np.abs(u) < radius) & (v < top), z)
    if win is not None:
        (u,) = at(win, u)
        canvas.fill(bounds, win, z, POLE, POLE,
                    METAL * _cylinder_shade(u, radius, light)[:, None])


def paint_pole(canvas: Canvas, rays: Rays, pole: Pole, light: Lighting) -> None:
    """A lamp post: shaft, an arm over the road and the lamp head."""
    lo, hi = min(0.0, pole.arm) - 0.4, max(0.0, pole.arm) + 0.4
    bounds = rays.bounds(pole.x + lo, pole.x + hi, 0.0, pole.height, pole.z, pole.z)
    if bounds is None:
        return
    u, v = rays.billboard(bounds, pole.x, pole.z)
    reach = abs(pole.arm)
    along = u * np.sign(pole.arm)
    top = v > pole.height - 0.12
    arm = (along > 0) & (along < reach) & top & (v < pole.height)
    lamp = (np.abs(along - reach) < 0.35) & (v > pole.height - 0.28) & (v < pole.height)
    shaft = (np.abs(u) < pole.radius) & (v < pole.height)
    win = canvas.claim(bounds, shaft | arm | lamp, pole.z)
    if win is None:
        return
    u, is_arm, is_lamp = at(win, u, arm & ~lamp, lamp)
    rgb = METAL * _cylinder_shade(u, pole.radius, light)[:, None]
    rgb = paint_where(paint_where(rgb, is_arm, METAL * 0.9), is_lamp, _rgb(.3, .3, .32))
    canvas.fill(bounds, win, pole.z, POLE, POLE, rgb)


def paint_sign(canvas: Canvas, rays: Rays, sign: Sign, light: Lighting) -> None:
    size = 0.65
    bounds = rays.bounds(sign.x - 0.4, sign.x + 0.4, 0.0, sign.height, sign.z, sign.z)
    if bounds is None:
        return
    centre = sign.height - size / 2
    paint_post(canvas, rays, bounds, sign.x, sign.z + 0.01, centre, 0.04, light)
    u, v = rays.billboard(bounds, sign.x, sign.z)
    dv = v - centre
    if sign.shape == 'round':  # r: 0 at the centre, 1 on the outline
        r = np.hypot(u, dv) / (size / 2)
    elif sign.shape == 'triangle':  # apex up
        r = np.maximum(-dv, dv * 0.5 + np.abs(u) * 0.866) / (size * 0.29)
    else:
        r = np.maximum(np.abs(u), np.abs(dv)) / (size / 2)
    win = canvas.claim(bounds, r < 1.0, sign.z)
    if win is None:
        return
    (r,) = at(win, r)
    border, inner = sign.colour, _rgb(.92, .92, .9)
    if sign.shape == 'square':  # blue plate, white rim
        border, inner = inner, border
    rgb = paint_where(np.broadcast_to(inner, r.shape + (3,)), r > 0.72, border)
    canvas.fill(bounds, win, sign.z, TRAFFIC_SIGN, TRAFFIC_SIGN, rgb * light.front)


def paint_traffic_light(canvas: Canvas, rays: Rays, tl: TrafficLight,
                        light: Lighting) -> None:
    bounds = rays.bounds(tl.x - 0.3, tl.x + 0.3, 0.0, tl.height, tl.z, tl.z)
    if bounds is None:
        return
    paint_post(canvas, rays, bounds, tl.x, tl.z + 0.01, tl.height - 0.9, 0.06, light)
    u, v = rays.billboard(bounds, tl.x, tl.z)
    housing = (np.abs(u) < 0.17) & (v > tl.height - 0.95) & (v < tl.height)
    win = canvas.claim(bounds, housing, tl.z)
    if win is None:
        return
    u, v = at(win, u, v)
    rgb = np.broadcast_to(_rgb(.12, .12, .1), u.shape + (3,))
    for k, on in enumerate((_rgb(.95, .15, .1), _rgb(.98, .7, .1), _rgb(.2, .9, .4))):
        lamp = np.hypot(u, v - (tl.height - 0.17 - 0.3 * k)) < 0.1
        rgb = paint_where(rgb, lamp, on if k == tl.lit else on * 0.25)
    canvas.fill(bounds, win, tl.z, TRAFFIC_LIGHT, TRAFFIC_LIGHT, rgb)


def _glass(height_fraction):
    """Dark glass that reflects more sky towards its top."""
    t = np.clip(height_fraction, 0, 1)[:, None] ** 2
    return GLASS + (SKY_REFLECTION - GLASS) * 0.7 * t


def _face_shading(car: Car, x, face, light: Lighting):
    """Brightness per face: sides by the sun, the near end, the roof."""
    side = light.side_brightness(np.where(x < car.x, -1.0, 1.0))
    return np.where(face == FACE_X, side, np.where(face == FACE_Z, light.front, 1.1))


def car_body_colour(car: Car, x, y, z, face, light: Lighting):
    """Lights, plate, bumper and tyres on the near end; wheels on the sides."""
    q, s, half = x - car.x, z - car.z, car.width / 2  # across, along the car
    body = np.broadcast_to(car.colour, q.shape + (3,))
    lamp = (np.abs(q) > half - 0.4) & (np.abs(q) < half - 0.07) & \
        (y > car.body_h - 0.3) & (y < car.body_h - 0.1)
    lamp_rgb = _rgb(.75, .06, .05) if car.facing_away else _rgb(.95, .94, .85)
    near = paint_where(body, lamp, lamp_rgb)
    if not car.facing_away:
        grille = (np.abs(q) < half - 0.5) & (y > 0.4) & (y < car.body_h - 0.12)
        near = paint_where(near, grille, _rgb(.08, .08, .09))
    plate = (np.abs(q) < 0.26) & (y > 0.28) & (y < 0.4)
    near = paint_where(near, plate, _rgb(.9, .9, .86))
    near = paint_where(near, y < 0.22, car.colour * 0.4 + 0.02)
    near = paint_where(near, (y < 0.2) & (np.abs(q) > half - 0.3), TYRE)
    # Sides: darker sills, a light shoulder line, wheels in their arches.
    side_shade = np.where(y < 0.3, 0.7, np.where(y > car.body_h - 0.12, 1.12, 1.0))
    side = body * side_shade[:, None]
    radius = 0.33
    for centre in (0.8, car.length - 0.85):
        dist = np.hypot(s - centre, y - radius)
        side = paint_where(side, dist < radius + 0.07, car.colour * 0.3)
        side = paint_where(side, dist < radius, TYRE)
        side = paint_where(side, dist < radius * 0.5, _rgb(.55, .56, .58))
    rgb = np.where((face == FACE_X)[:, None], side,
                   np.where((face == FACE_Z)[:, None], near, body))
    return rgb * _face_shading(car, x, face, light)[:, None]


def car_cabin_colour(car: Car, x, y, z, face, light: Lighting):
    """Windows with pillars in the body colour."""
    box = car.cabin
    q, s, length = x - car.x, z - box.z0, box.z1 - box.z0
    rel = (y - box.y0) / (box.y1 - box.y0)
    in_height = (rel > 0.1) & (rel < 0.85)
    end_window = in_height & (np.abs(q) < (box.x1 - box.x0) / 2 - 0.08) & \
        (face == FACE_Z)
    side_window = in_height & (s > 0.12) & (s < length - 0.12) & \
        (np.abs(s - length * 0.5) > 0.06) & (face == FACE_X)
    rgb = paint_where(np.broadcast_to(car.colour, q.shape + (3,)),
                      end_window | side_window, _glass(rel))
    return rgb * _face_shading(car, x, face, light)[:, None]


def paint_car(canvas: Canvas, rays: Rays, car: Car, inst: int,
              light: Lighting) -> None:
    for box, colour in ((car.body, car_body_colour), (car.cabin, car_cabin_colour)):
        bounds = box.screen_bounds(rays)
        if bounds is None:
            continue
        hit = cast_box(rays, bounds, box)
        win = canvas.claim(bounds, hit.mask, hit.depth)
        if win is None:
            continue
        z, x, y, face = at(win, hit.depth, hit.x, hit.y, hit.face)
        canvas.fill(bounds, win, z, CAR, inst, colour(car, x, y, z, face, light))


def person_parts(p: Person, u, v) -> dict:
    """Masks of a walking figure; ``u``, ``v`` in units of its height."""
    hip, shoulder = 0.53, 0.78
    spread, hip_x = (p.stride, 0.02) if p.side_view else (0.065, 0.045)
    legs = np.minimum(segment_distance(u, v, (-hip_x, hip), (-spread, 0.03)),
                      segment_distance(u, v, (hip_x, hip), (spread, 0.03))) < 0.038
    torso = segment_distance(u, v, (0.0, 0.6), (0.0, shoulder - 0.02)) < \
        (0.075 if p.side_view else 0.1)
    arm_x = 0.02 if p.side_view else 0.125
    hands = ((arm_x + p.swing, 0.47), (-arm_x - p.swing, 0.47))
    arms = np.minimum(segment_distance(u, v, (arm_x, shoulder), hands[0]),
                      segment_distance(u, v, (-arm_x, shoulder), hands[1])) < 0.03
    hand = np.minimum(np.hypot(u - hands[0][0], v - hands[0][1]),
                      np.hypot(u - hands[1][0], v - hands[1][1])) < 0.033
    head_d = np.hypot(u, v - 0.925)
    head = (head_d < 0.062) | (segment_distance(u, v, (0, 0.8), (0, 0.88)) < 0.028)
    hair = (head_d < 0.066) & ((v > 0.945) | (p.side_view & (u < -0.015) & (v > 0.9)))
    return dict(legs=legs, torso=torso | arms, skin=hand | head, hair=hair,
                shoes=legs & (v < 0.035))


def paint_person(canvas: Canvas, rays: Rays, p: Person, inst: int,
                 light: Lighting) -> None:
    bounds = rays.bounds(p.x - 0.35 * p.height, p.x + 0.35 * p.height, 0.0,
                         p.height, p.z, p.z)
    if bounds is None:
        return
    u, v = rays.billboard(bounds, p.x, p.z)
    parts = person_parts(p, u / p.height, v / p.height)
    silhouette = parts['legs'] | parts['torso'] | parts['skin'] | parts['hair']
    win = canvas.claim(bounds, silhouette, p.z)
    if win is None:
        return
    u, torso, skin, hair, shoes = at(win, u / p.height, parts['torso'], parts['skin'],
                                     parts['hair'], parts['shoes'])
    rgb = np.broadcast_to(p.trousers, u.shape + (3,))
    for mask, colour in ((shoes, _rgb(.08, .07, .07)), (torso, p.top),
                         (skin, p.skin), (hair, p.hair)):
        rgb = paint_where(rgb, mask, colour)
    # Round shading across the body, lit from the sun's side.
    across = np.clip(u / 0.12, -1, 1)
    shade = np.clip(1 - 0.35 * across ** 2, 0.6, 1) * (1 + 0.1 * light.sun_x * across)
    canvas.fill(bounds, win, p.z, PERSON, inst, rgb * (shade * light.front)[:, None])


# --------------------------------------------------------------------------
# Finishing: outlines, lighting, noise, instance numbering
# --------------------------------------------------------------------------

def instance_edges(inst: np.ndarray) -> np.ndarray:
    """Pixels whose 4-neighbourhood holds another instance id."""
    edge = np.zeros(inst.shape, dtype=bool)
    horizontal = inst[:, 1:] != inst[:, :-1]
    vertical = inst[1:, :] != inst[:-1, :]
    edge[:, 1:] |= horizontal
    edge[:, :-1] |= horizontal
    edge[1:, :] |= vertical
    edge[:-1, :] |= vertical
    return edge


def number_instances(inst: np.ndarray) -> np.ndarray:
    """Renumber visible things to ``class * 1000 + k`` with k = 0, 1, 2, ..."""
    things = inst >= 1000
    ids, inverse = np.unique(inst[things], return_inverse=True)
    classes = ids // 1000
    rank = np.arange(ids.size) - np.searchsorted(classes, classes, side='left')
    out = inst.copy()
    out[things] = (classes * 1000 + rank)[inverse]
    return out


def finish_photo(canvas: Canvas, rays: Rays, light: Lighting,
                 rng: np.random.Generator) -> np.ndarray:
    rgb = canvas.rgb
    # Aerial perspective: far surfaces fade to the horizon colour.
    haze = 1 - np.exp(-np.minimum(canvas.depth, 1e6) / light.haze_m)
    rgb += (light.horizon - rgb) * (haze * (canvas.depth < np.inf))[..., None]
    # Dark outlines around cars and people separate touching instances.
    width = max(1, round(min(rays.height, rays.width / 2) / 256))
    edge = instance_edges(canvas.inst)
    for _ in range(width - 1):
        edge = edge | instance_edges(np.where(edge, -1, canvas.inst))
    rgb[edge & (canvas.inst >= 1000)] *= 0.45
    # Exposure, colour tint, a lighting ramp, vignetting and sensor noise.
    cols = (np.arange(rays.width, dtype=np.float32) + 0.5) / rays.width - 0.5
    rows = (np.arange(rays.height, dtype=np.float32) + 0.5) / rays.height - 0.5
    vignette = 1 - 0.35 * (cols[None, :] ** 2 + rows[:, None] ** 2)
    gain = (1 + light.gradient * cols[None, :]) * vignette
    rgb *= (gain * light.exposure)[..., None] * light.tint
    rgb += rng.standard_normal(rgb.shape, dtype=np.float32) * 0.012
    return (np.clip(rgb, 0, 1) * 255 + 0.5).astype(np.uint8)


def render_street_scene(seed: int, height: int = 128, width: int = 256) -> dict:
    """Render one street scene.

    Returns ``img`` (H, W, 3) uint8 RGB, ``label`` (H, W) uint8 Cityscapes
    label ids and ``inst`` (H, W) int32 Cityscapes instance ids. The scene
    depends on ``seed`` only, so other sizes show the same street.
    """
    if height < 1 or width < 1:
        raise ValueError(f'image size must be positive, got {height}x{width}')
    rng = np.random.default_rng(seed)
    scene = sample_scene(rng)
    rays = Rays(scene.camera, height, width)
    canvas = Canvas(height, width)
    light, noise = scene.lighting, scene.noise
    # Nearest kinds first: the depth test then skips texturing hidden pixels.
    for k, person in enumerate(scene.people):
        paint_person(canvas, rays, person, PERSON * 1000 + k, light)
    for k, car in enumerate(scene.cars):
        paint_car(canvas, rays, car, CAR * 1000 + k, light)
    for tl in scene.lights:
        paint_traffic_light(canvas, rays, tl, light)
    for sign in scene.signs:
        paint_sign(canvas, rays, sign, light)
    for pole in scene.poles:
        paint_pole(canvas, rays, pole, light)
    for tree in scene.trees:
        paint_tree(canvas, rays, tree, noise)
    for hedge in scene.hedges:
        paint_hedge(canvas, rays, hedge, noise)
    for building in sorted(scene.buildings, key=lambda b: b.box.z0):
        paint_building(canvas, rays, building, light, noise)
    paint_ground(canvas, rays, scene)
    paint_sky(canvas, rays, light, noise)
    # Pixel noise has its own stream so it never shifts the scene's layout.
    img = finish_photo(canvas, rays, light, np.random.default_rng([seed, 1]))
    return dict(img=img, label=canvas.label, inst=number_instances(canvas.inst))


# --------------------------------------------------------------------------
# The dataset
# --------------------------------------------------------------------------

def sample_seed(seed: int, index: int) -> int:
    """Render seed of sample ``index`` in the dataset seeded ``seed``.

    The stride is a prime above any sensible dataset size, so datasets with
    different seeds never share a sample.
    """
    return seed * 1_000_003 + index


@DATASETS.register_module()
class SyntheticStreetDataset(BaseDataset):
    """Procedural Cityscapes-like street scenes, rendered on the fly.

    Each sample is rendered in ``prepare_data`` (nothing at construction), so
    the dataset is cheap to build and to pickle into DataLoader workers.
    Before the pipeline runs, the results dict holds ``img`` (H, W, 3) uint8
    RGB, ``gt_label`` (H, W) int64 label ids (train ids with
    ``use_train_ids``, 255 = ignore), ``gt_inst`` (H, W) int64 Cityscapes
    instance ids, ``img_shape`` and ``ori_shape`` (H, W), and the data info
    keys ``sample_idx``, ``img_path``, ``label_path``, ``inst_path`` and
    ``render_seed``. The paths are ``synthetic://`` names; loading transforms
    skip them because the arrays are already present.

    ``tools/make_dataset.py`` writes the same samples to disk in the
    Cityscapes layout: its train split equals ``seed=s`` and its val split
    ``seed=s + 1``.

    Args:
        num_samples: Number of scenes.
        height, width: Image size in pixels (any size, any aspect ratio).
        seed: Dataset seed; sample ``i`` renders with ``sample_seed(seed, i)``.
        num_classes: Defaults to 35 label ids, or 19 with ``use_train_ids``;
            another value is an error.
        use_train_ids: Map ``gt_label`` to the 19 Cityscapes train ids.
        pipeline, test_mode, **kwargs: As for ``BaseDataset``.
    """

    METAINFO = dict(classes=LABEL_ID_NAMES, palette=LABEL_ID_PALETTE)

    def __init__(self, num_samples: int = 200, height: int = 128, width: int = 256,
                 seed: int = 0, num_classes: Optional[int] = None,
                 use_train_ids: bool = False, pipeline: Sequence = (),
                 test_mode: bool = False, metainfo: Optional[dict] = None, **kwargs):
        expected = NUM_TRAIN_IDS if use_train_ids else NUM_LABEL_IDS
        if num_classes is not None and num_classes != expected:
            raise ValueError(
                f'num_classes={num_classes} does not match '
                f'{"train ids" if use_train_ids else "label ids"} ({expected})')
        if num_samples < 0 or seed < 0 or height < 1 or width < 1:
            raise ValueError('num_samples and seed must be >= 0 and the size '
                             f'positive, got {num_samples}, {seed}, {height}x{width}')
        self.num_samples, self.height, self.width = num_samples, height, width
        self.seed, self.use_train_ids, self.num_classes = seed, use_train_ids, expected
        self._train_id_lut = label_id_to_train_id_lut() if use_train_ids else None
        # The same metainfo as the real Cityscapes dataset, so configs swap.
        merged = cityscapes_metainfo(use_train_ids)
        merged.update(metainfo or {})
        # Built from gentk's registry so that no default scope is needed.
        pipeline = [TRANSFORMS.build(step) if isinstance(step, dict) else step
                    for step in pipeline]
        super().__init__(metainfo=merged, pipeline=pipeline,
                         test_mode=test_mode, **kwargs)

    def load_data_list(self) -> List[dict]:
        base = f'synthetic://{self.seed}'
        return [dict(sample_idx=i, render_seed=sample_seed(self.seed, i),
                     img_path=f'{base}/{i}',
                     label_path=f'{base}/{i}/labelIds',
                     inst_path=f'{base}/{i}/instanceIds')
                for i in range(self.num_samples)]

    def prepare_data(self, idx: int):
        results = self.get_data_info(idx)
        scene = render_street_scene(results['render_seed'], self.height, self.width)
        label = scene['label']
        if self._train_id_lut is not None:
            label = self._train_id_lut[label]
        shape = (self.height, self.width)
        results.update(img=scene['img'], gt_label=label.astype(np.int64),
                       gt_inst=scene['inst'].astype(np.int64),
                       img_shape=shape, ori_shape=shape)
        return self.pipeline(results)
