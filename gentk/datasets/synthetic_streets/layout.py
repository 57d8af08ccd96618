"""Sampling a street scene's layout (metres) from a random generator."""
from typing import List, Sequence, Tuple

import numpy as np

from .camera import Box, Camera
from .palette import (CAR_COLOURS, CLOTH_COLOURS, FACADE_COLOURS, HAIR_COLOURS,
                      SKIN_COLOURS, srgb)
from .scene import (Building, Car, Hedge, Lighting, Person, Pole, Sign, Street,
                    StreetScene, Tree, TrafficLight)


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
        asphalt=srgb(*[_u(rng, .28, .36)] * 3),  # neutral grey
        paving=_pick(rng, (srgb(.62, .6, .56), srgb(.56, .56, .58),
                           srgb(.66, .58, .52))),
        grass=_pick(rng, (srgb(.32, .42, .18), srgb(.4, .44, .22), srgb(.45, .4, .28))))


def sample_lighting(rng: np.random.Generator) -> Lighting:
    overcast = rng.random() < 0.3
    if overcast:
        zenith, horizon = srgb(.66, .7, .76), srgb(.82, .84, .86)
    else:
        zenith = srgb(_u(rng, .22, .38), _u(rng, .45, .58), _u(rng, .78, .92))
        horizon = srgb(.76, .83, .9)
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
                _pick(rng, (srgb(.2, .34, .13), srgb(.26, .38, .16)))))
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
                    colour=_pick(rng, (srgb(.24, .36, .14), srgb(.3, .42, .16),
                                       srgb(.2, .3, .12), srgb(.36, .44, .2))),
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
        colour = srgb(.1, .25, .6) if shape == 'square' or rng.random() < 0.3 \
            else srgb(.75, .08, .08)
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
    """A whole scene; the draw order fixes what each seed looks like."""
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
