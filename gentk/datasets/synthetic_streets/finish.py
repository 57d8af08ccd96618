"""Finishing a render: outlines, lighting and noise."""
import numpy as np

from .camera import Rays
from .canvas import Canvas
from .scene import Lighting


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
