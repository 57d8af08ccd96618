"""Vectorised texture and shape helpers shared by the painters."""
import numpy as np


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
