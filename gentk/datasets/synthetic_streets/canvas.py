"""The depth-buffered canvas painters draw on."""
from typing import Optional

import numpy as np

from .camera import Bounds
from .palette import SKY


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
