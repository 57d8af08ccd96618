"""Painters of stuff: sky, ground, buildings and vegetation."""
from typing import Sequence

import numpy as np

from .camera import FACE_X, Bounds, Rays, cast_box
from .canvas import Canvas, at
from .palette import (BUILDING, CURB, GLASS, LANE_PAINT, ROAD, SIDEWALK, SKY,
                      SKY_REFLECTION, TERRAIN, TRUNK, VEGETATION, srgb)
from .scene import Building, Car, Hedge, Lighting, Street, StreetScene, Tree
from .texture import (cell_random, fractional, paint_where, smoothstep,
                      value_noise)


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
        rgb = rgb + (srgb(.93, .94, .96) - rgb) * cover[:, None]
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
    """Road, sidewalks and terrain on the ground plane below the horizon."""
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
    left, right = street.road_left, street.road_right
    road = (x > left) & (x < right)
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
