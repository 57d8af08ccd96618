"""The registered dataset rendering street scenes on the fly."""
import numbers
from typing import List, Optional, Sequence

import numpy as np
from mmengine.dataset import BaseDataset

from ...registry import DATASETS, TRANSFORMS
from ..cityscapes import cityscapes_metainfo
from ..cityscapes_labels import (LABEL_ID_NAMES, LABEL_ID_PALETTE, NUM_LABEL_IDS,
                                 NUM_TRAIN_IDS, label_id_to_train_id_lut)
from .render import render_street_scene


def sample_seed(seed: int, index: int) -> int:
    """Render seed of sample ``index`` in the dataset seeded ``seed``.

    The stride is a prime above any sensible dataset size, so datasets with
    different seeds never share a sample.
    """
    return seed * 1_000_003 + index


@DATASETS.register_module()
class SyntheticStreetDataset(BaseDataset):
    """Procedural Cityscapes-like street scenes, rendered on the fly.

    Each sample is rendered in ``prepare_data`` (nothing at construction), so
    the dataset is cheap to build and to pickle into DataLoader workers.
    Before the pipeline runs, the results dict holds ``img`` (H, W, 3) uint8
    RGB, ``gt_label`` (H, W) int64 label ids (train ids with
    ``use_train_ids``, 255 = ignore), ``gt_inst`` (H, W) int64 Cityscapes
    instance ids, ``img_shape`` and ``ori_shape`` (H, W), and the data info
    keys ``sample_idx``, ``img_path``, ``label_path``, ``inst_path`` and
    ``render_seed``. The paths are ``synthetic://`` names; loading transforms
    skip them because the arrays are already present.

    ``tools/make_dataset.py`` writes the same samples to disk in the
    Cityscapes layout: its train split equals ``seed=s`` and its val split
    ``seed=s + 1``.

    Args:
        num_samples: Number of scenes.
        height, width: Image size in pixels (any size, any aspect ratio).
        seed: Dataset seed; sample ``i`` renders with ``sample_seed(seed, i)``.
        num_classes: Defaults to 35 label ids, or 19 with ``use_train_ids``;
            another value is an error.
        use_train_ids: Map ``gt_label`` to the 19 Cityscapes train ids.
        pipeline, test_mode, **kwargs: As for ``BaseDataset``.
    """

    METAINFO = dict(classes=LABEL_ID_NAMES, palette=LABEL_ID_PALETTE)

    def __init__(self, num_samples: int = 200, height: int = 128, width: int = 256,
                 seed: int = 0, num_classes: Optional[int] = None,
                 use_train_ids: bool = False, pipeline: Sequence = (),
                 test_mode: bool = False, metainfo: Optional[dict] = None, **kwargs):
        expected = NUM_TRAIN_IDS if use_train_ids else NUM_LABEL_IDS
        if num_classes is not None and num_classes != expected:
            raise ValueError(
                f'num_classes={num_classes} does not match '
                f'{"train ids" if use_train_ids else "label ids"} ({expected})')
        for name, value, least in (('num_samples', num_samples, 0),
                                   ('seed', seed, 0), ('height', height, 1),
                                   ('width', width, 1)):
            if not isinstance(value, numbers.Integral) or isinstance(value, bool) \
                    or value < least:
                raise ValueError(f'SyntheticStreetDataset: {name} must be an '
                                 f'int >= {least}, got {value!r}')
        self.num_samples, self.height, self.width = num_samples, height, width
        self.seed, self.use_train_ids, self.num_classes = seed, use_train_ids, expected
        self._train_id_lut = label_id_to_train_id_lut() if use_train_ids else None
        # The same metainfo as the real Cityscapes dataset, so configs swap.
        merged = cityscapes_metainfo(use_train_ids)
        merged.update(metainfo or {})
        # Built from gentk's registry so that no default scope is needed.
        pipeline = [TRANSFORMS.build(step) if isinstance(step, dict) else step
                    for step in pipeline]
        super().__init__(metainfo=merged, pipeline=pipeline,
                         test_mode=test_mode, **kwargs)

    def load_data_list(self) -> List[dict]:
        base = f'synthetic://{self.seed}'
        return [dict(sample_idx=i, render_seed=sample_seed(self.seed, i),
                     img_path=f'{base}/{i}',
                     label_path=f'{base}/{i}/labelIds',
                     inst_path=f'{base}/{i}/instanceIds')
                for i in range(self.num_samples)]

    def prepare_data(self, idx: int):
        results = self.get_data_info(idx)
        scene = render_street_scene(results['render_seed'], self.height, self.width)
        label = scene['label']
        if self._train_id_lut is not None:
            label = self._train_id_lut[label]
        shape = (self.height, self.width)
        results.update(img=scene['img'], gt_label=label.astype(np.int64),
                       gt_inst=scene['inst'].astype(np.int64),
                       img_shape=shape, ori_shape=shape)
        return self.pipeline(results)
