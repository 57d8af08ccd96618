"""Painters of street furniture: lamp posts, traffic signs and lights."""
import numpy as np

from .camera import Bounds, Rays
from .canvas import Canvas, at
from .palette import METAL, POLE, TRAFFIC_LIGHT, TRAFFIC_SIGN, srgb
from .scene import Lighting, Pole, Sign, TrafficLight
from .texture import paint_where


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
    rgb = paint_where(paint_where(rgb, is_arm, METAL * 0.9), is_lamp, srgb(.3, .3, .32))
    canvas.fill(bounds, win, pole.z, POLE, POLE, rgb)


def paint_sign(canvas: Canvas, rays: Rays, sign: Sign, light: Lighting) -> None:
    size = 0.65
    # A triangle's apex reaches 0.05 m above the post (0.377 m over the
    # plate's centre): the window goes that high too, or it loses its tip.
    bounds = rays.bounds(sign.x - 0.4, sign.x + 0.4, 0.0, sign.height + 0.06,
                         sign.z, sign.z)
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
    border, inner = sign.colour, srgb(.92, .92, .9)
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
    rgb = np.broadcast_to(srgb(.12, .12, .1), u.shape + (3,))
    for k, on in enumerate((srgb(.95, .15, .1), srgb(.98, .7, .1), srgb(.2, .9, .4))):
        lamp = np.hypot(u, v - (tl.height - 0.17 - 0.3 * k)) < 0.1
        rgb = paint_where(rgb, lamp, on if k == tl.lit else on * 0.25)
    canvas.fill(bounds, win, tl.z, TRAFFIC_LIGHT, TRAFFIC_LIGHT, rgb)
