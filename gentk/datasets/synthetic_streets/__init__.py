"""Procedural street scenes in Cityscapes conventions: the built-in dataset.

Every config runs on :class:`SyntheticStreetDataset` when no real data is
present. A scene is sampled in metres (a pinhole camera 1.5 m above a flat
street lined with buildings, trees, poles, cars and people) and every object
is ray cast against the camera's rays, with a depth buffer deciding who is in
front. Sampling never looks at the resolution, and textures live in world
coordinates, so one seed gives the same scene at 64x32 and at 2048x1024.

Outputs follow Cityscapes: ``label`` holds label ids (0..33), ``inst`` holds
``label_id * 1000 + k`` on car/person pixels (k: the object's index among
the scene's cars or people, whether or not the others are in view) and the
plain label id elsewhere,
and ``img`` is an RGB photo whose colours and textures follow the labels
(asphalt and lane marks on road, windows on buildings, a body colour per car
with a dark outline between instances) so label -> photo is learnable.

Modules, in pipeline order: ``layout`` samples a ``scene`` (dataclasses in
metres); ``render`` casts the ``camera``'s rays and runs the painters
(``paint_stuff``, ``paint_furniture``, ``paint_things``) on a depth-buffered
``canvas``; ``finish`` turns it into a photo. ``dataset`` registers
:class:`SyntheticStreetDataset`.
"""
from .dataset import SyntheticStreetDataset, sample_seed
from .render import render_street_scene

__all__ = ['SyntheticStreetDataset', 'render_street_scene', 'sample_seed']
