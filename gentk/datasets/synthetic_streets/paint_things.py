"""Painters of things (instances): cars and people."""
import numpy as np

from .camera import FACE_X, FACE_Z, Rays, cast_box
from .canvas import Canvas, at
from .palette import CAR, GLASS, PERSON, SKY_REFLECTION, TYRE, srgb
from .scene import Car, Lighting, Person
from .texture import paint_where, segment_distance


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
    lamp_rgb = srgb(.75, .06, .05) if car.facing_away else srgb(.95, .94, .85)
    near = paint_where(body, lamp, lamp_rgb)
    if not car.facing_away:
        grille = (np.abs(q) < half - 0.5) & (y > 0.4) & (y < car.body_h - 0.12)
        near = paint_where(near, grille, srgb(.08, .08, .09))
    plate = (np.abs(q) < 0.26) & (y > 0.28) & (y < 0.4)
    near = paint_where(near, plate, srgb(.9, .9, .86))
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
        side = paint_where(side, dist < radius * 0.5, srgb(.55, .56, .58))
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
    for mask, colour in ((shoes, srgb(.08, .07, .07)), (torso, p.top),
                         (skin, p.skin), (hair, p.hair)):
        rgb = paint_where(rgb, mask, colour)
    # Round shading across the body, lit from the sun's side.
    across = np.clip(u / 0.12, -1, 1)
    shade = np.clip(1 - 0.35 * across ** 2, 0.6, 1) * (1 + 0.1 * light.sun_x * across)
    canvas.fill(bounds, win, p.z, PERSON, inst, rgb * (shade * light.front)[:, None])
