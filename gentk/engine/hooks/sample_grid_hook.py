"""Sample grids (label | generated | real) written as PNG during training."""
import os
import os.path as osp
from typing import Optional, Sequence, Union

import numpy as np
import torch
from mmengine.dataset import pseudo_collate
from mmengine.dist import master_only
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from gentk.registry import DATASETS, HOOKS
from gentk.utils import (colorize_labels, default_palette, image_grid,
                         to_uint8_image, write_png)
from gentk.utils.random_state import isolated_random_states


@HOOKS.register_module()
class SampleGridHook(Hook):
    """Every ``interval`` iterations (and at the end) render the same inputs.

    The inputs are taken once, before training, at indices
    ``0..num_samples-1`` of ``dataset``: ``'val'`` (the validation set, or
    the training set when the config has none), ``'train'``, or a dataset
    config. Random number generator states are restored after
    taking them, so sampling never changes the training run: a resumed run
    shows the same inputs and trains the same way.

    Args:
        interval: iterations between grids.
        num_samples: rows in the grid.
        dataset: ``'val'``, ``'train'`` or a dataset config.
        out_dir: folder under the work dir for the PNG files.
    """

    priority = 'LOW'

    def __init__(self, interval: int = 500, num_samples: int = 4,
                 dataset: Union[str, dict] = 'val', out_dir: str = 'samples'):
        if not isinstance(num_samples, int) or num_samples < 1:
            raise ValueError(f'SampleGridHook: num_samples must be an int >= 1, '
                             f'got {num_samples!r}')
        self.interval = interval
        self.num_samples = num_samples
        self.dataset_cfg = dataset
        self.out_dir = out_dir
        self.batch = None
        self.written = []

    def before_train(self, runner) -> None:
        dataset = self._dataset(runner)
        with isolated_random_states():  # the fixed inputs move no generator
            count = min(self.num_samples, len(dataset))
            self.batch = pseudo_collate([dataset[i] for i in range(count)])
        palette = dataset.metainfo.get('palette')
        self.palette = (palette if palette is not None else
                        default_palette(runner.model.data_preprocessor.num_classes))

    def _dataset(self, runner):
        if isinstance(self.dataset_cfg, dict):
            return DATASETS.build(self.dataset_cfg)
        if self.dataset_cfg == 'val' and runner.val_loop is not None:
            return runner.val_loop.dataloader.dataset
        if self.dataset_cfg not in ('val', 'train'):
            raise ValueError("SampleGridHook.dataset must be 'val', 'train' or "
                             f'a dataset config, got {self.dataset_cfg!r}')
        return runner.train_dataloader.dataset

    # Rank 0 writes the grids: the other ranks hold the same model.
    @master_only
    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        if self.every_n_train_iters(runner, self.interval):
            # runner.iter counts finished iterations from the next one on.
            self.write_grid(runner, f'iter_{runner.iter + 1:06d}.png',
                            step=runner.iter + 1)

    @master_only
    def after_train(self, runner) -> None:
        if self.batch is not None:
            self.write_grid(runner, 'final.png', step=runner.iter)

    @torch.no_grad()
    def write_grid(self, runner, filename: str,
                   step: Optional[int] = None) -> str:
        """Render the inputs to ``filename``; the visualiser logs the grid
        at ``step`` (default: the iterations finished)."""
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        was_training = model.training
        model.eval()
        try:
            inputs = model.data_preprocessor(self.batch, False)['inputs']
            with isolated_random_states():  # a grid never moves the run
                fake = model.sample(inputs)
        finally:
            model.train(was_training)
        rows = [self._row(inputs, fake, i) for i in range(len(fake))]
        grid = image_grid(rows)
        folder = osp.join(runner.work_dir, self.out_dir)
        os.makedirs(folder, exist_ok=True)
        path = osp.join(folder, filename)
        write_png(path, grid)
        runner.visualizer.add_image(
            'samples', grid, step=runner.iter if step is None else step)
        self.written.append(path)
        return path

    def _row(self, inputs: dict, fake: torch.Tensor, i: int) -> Sequence[np.ndarray]:
        row = [colorize_labels(inputs['label'][i], self.palette),
               to_uint8_image(fake[i])]
        if 'img' in inputs:
            row.append(to_uint8_image(inputs['img'][i]))
        return row
