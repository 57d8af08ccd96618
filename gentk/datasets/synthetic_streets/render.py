"""The renderer's entry point: one seed in, one labelled photo out."""
import numpy as np

from .camera import Rays
from .canvas import Canvas
from .finish import finish_photo
from .layout import sample_scene
from .paint_furniture import paint_pole, paint_sign, paint_traffic_light
from .paint_stuff import (paint_building, paint_ground, paint_hedge, paint_sky,
                          paint_tree)
from .paint_things import paint_car, paint_person
from .palette import CAR, PERSON


def render_street_scene(seed: int, height: int = 128, width: int = 256) -> dict:
    """Render one street scene.

    Returns ``img`` (H, W, 3) uint8 RGB, ``label`` (H, W) uint8 Cityscapes
    label ids and ``inst`` (H, W) int32 Cityscapes instance ids. The scene
    depends on ``seed`` only, so other sizes show the same street, with the
    same instance ids for the objects they show.
    """
    if height < 1 or width < 1:
        raise ValueError(f'image size must be positive, got {height}x{width}')
    rng = np.random.default_rng(seed)
    scene = sample_scene(rng)
    rays = Rays(scene.camera, height, width)
    canvas = Canvas(height, width)
    light, noise = scene.lighting, scene.noise
    # Nearest kinds first: the depth test then skips texturing hidden pixels.
    # An instance is numbered by its place in the scene, not among the
    # visible ones, so an object keeps its id at every resolution.
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
    return dict(img=img, label=canvas.label, inst=canvas.inst)
