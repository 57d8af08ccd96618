"""Turning tensors into pictures: [-1, 1] images, palettes, grids, PNGs."""
from typing import Sequence

import cv2
import numpy as np
import torch


def to_uint8_image(img: torch.Tensor) -> np.ndarray:
    """[3,H,W] float in [-1, 1] -> HxWx3 uint8 RGB."""
    img = ((img.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round()
    return img.to(torch.uint8).permute(1, 2, 0).numpy()


def colorize_labels(label: torch.Tensor, palette: Sequence) -> np.ndarray:
    """[H,W] integer labels -> HxWx3 uint8 RGB; ids without a colour are black."""
    table = np.zeros((256 if len(palette) <= 256 else len(palette), 3), np.uint8)
    table[:len(palette)] = np.asarray(palette, dtype=np.uint8)
    label = label.detach().cpu().long().numpy()
    return table[np.clip(label, 0, len(table) - 1)]


def default_palette(num_classes: int, seed: int = 7) -> np.ndarray:
    """Distinct, reproducible colours for datasets that bring none."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(num_classes, 3), dtype=np.uint8)


def image_grid(rows: Sequence[Sequence[np.ndarray]], pad: int = 2) -> np.ndarray:
    """Tile equally sized HxWx3 uint8 images row by row, white gutters."""
    h, w = rows[0][0].shape[:2]
    cols = max(len(r) for r in rows)
    grid = np.full((len(rows) * (h + pad) + pad, cols * (w + pad) + pad, 3),
                   255, np.uint8)
    for i, row in enumerate(rows):
        for j, tile in enumerate(row):
            y, x = pad + i * (h + pad), pad + j * (w + pad)
            grid[y:y + h, x:x + w] = tile
    return grid


def write_png(path: str, rgb: np.ndarray) -> None:
    if not cv2.imwrite(path, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)):
        raise OSError(f'could not write image {path!r}')
