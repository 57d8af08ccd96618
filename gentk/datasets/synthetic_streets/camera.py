"""The pinhole camera, its rays and ray casting against boxes."""
from dataclasses import dataclass
from typing import NamedTuple, Optional, Tuple

import numpy as np

#: Rays closer than this (metres) are ignored: it keeps projections finite.
NEAR_PLANE = 0.05
FACE_X, FACE_Y, FACE_Z = 0, 1, 2  # which slab of a box a ray enters through


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
