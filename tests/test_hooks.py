"""Sample grids, the progress bar and the TensorBoard backend in a real run."""
import glob
import io
import logging
import os
import sys

import cv2
import pytest
import torch
from rich.console import Console

from gentk.engine import RichProgressHook, SampleGridHook
from tiny_config import run_tool, write_tiny_config


def test_sample_grids_and_tensorboard(tmp_path):
    config = write_tiny_config(tmp_path, max_iters=4, checkpoint_interval=4)
    with open(config, 'a') as f:
        f.write("visualizer = dict(type='Visualizer', vis_backends=["
                "dict(type='LocalVisBackend'), dict(type='TensorboardVisBackend')])\n")
    run_tool(['tools/train.py', config, '--work-dir', str(tmp_path / 'w')])
    grids = sorted(p.name for p in (tmp_path / 'w' / 'samples').iterdir())
    assert grids == ['final.png', 'iter_000004.png']
    grid = cv2.imread(str(tmp_path / 'w' / 'samples' / 'final.png'))
    # 2 rows x 3 tiles (label | generated | real) of 32x64 with 2-pixel gutters
    assert grid.shape == (2 * 34 + 2, 3 * 66 + 2, 3)
    events = glob.glob(str(tmp_path / 'w' / '*' / 'vis_data' / 'events.out.tfevents.*'))
    assert events, 'no TensorBoard event file'


class FakeRunner:
    rank, iter, max_iters = 0, 0, 10


def run_bar(terminal):
    """What a progress bar over 10 iterations draws, and whether the run's
    console log handler wrote through its display while it was up."""
    buffer = io.StringIO()
    hook = RichProgressHook(refresh_interval=1,
                            console=Console(file=buffer, width=120,
                                            force_terminal=terminal))
    runner = FakeRunner()
    handler = logging.StreamHandler(sys.__stdout__)
    runner.logger = logging.Logger('progress-test')
    runner.logger.addHandler(handler)
    hook.before_train(runner)
    # While the bar is up, log lines go through its display (above it).
    redirected = handler.stream is not sys.__stdout__
    for i in range(10):
        runner.iter = i
        hook.after_train_iter(runner, i, outputs={'loss_gan': torch.tensor(0.25)})
    hook.after_train(runner)
    assert handler.stream is sys.__stdout__     # given back
    return buffer.getvalue(), redirected


def test_progress_bar_shows_iterations_and_losses():
    text, redirected = run_bar(terminal=True)
    assert '10/10' in text and 'gan=0.250' in text
    assert redirected


def test_no_progress_bar_off_a_terminal():
    """In a log file the logger's lines report progress; a bar would only
    appear once, at the end, cut to 80 columns."""
    text, redirected = run_bar(terminal=False)
    assert text == '' and not redirected


def test_sample_grid_tiles_are_label_generated_real(tmp_path):
    """Each row of the PNG is the coloured label map, the model's sample and
    the real photo, in that order and in RGB."""
    import types

    from gentk.engine.hooks.sample_grid_hook import SampleGridHook
    from gentk.utils import colorize_labels, to_uint8_image
    from test_pix2pixhd import H, W, scene, tiny_model
    torch.manual_seed(0)
    model = tiny_model()
    hook = SampleGridHook(num_samples=1)
    hook.batch = scene()
    hook.palette = [(128, 64, 128), (244, 35, 232), (70, 70, 70), (102, 102, 156)]
    images = []
    runner = types.SimpleNamespace(
        model=model, work_dir=str(tmp_path), iter=0,
        visualizer=types.SimpleNamespace(
            add_image=lambda name, image, step: images.append(image)))
    path = hook.write_grid(runner, 'grid.png')
    grid = cv2.cvtColor(cv2.imread(path), cv2.COLOR_BGR2RGB)
    inputs = model.data_preprocessor(hook.batch, False)['inputs']
    model.eval()
    expected = [colorize_labels(inputs['label'][0], hook.palette),
                to_uint8_image(model.sample(inputs)[0]),
                to_uint8_image(inputs['img'][0])]
    for k, tile in enumerate(expected):
        x = 2 + k * (W + 2)
        assert (grid[2:2 + H, x:x + W] == tile).all(), f'tile {k}'
    assert (images[0] == grid).all()
    assert tuple(grid[2, 2]) == (128, 64, 128)   # label 0's colour, as RGB


def test_sample_grids_are_logged_at_the_iteration_they_follow(tmp_path):
    """During training runner.iter is the running iteration's index (the
    grid after it is step iter + 1); after training it is the count."""
    import types

    from gentk.engine.hooks.sample_grid_hook import SampleGridHook
    from test_pix2pixhd import scene, tiny_model
    hook = SampleGridHook(num_samples=1, interval=5)
    hook.batch, hook.palette = scene(), [(0, 0, 0)] * 4
    steps = []
    runner = types.SimpleNamespace(
        model=tiny_model(), work_dir=str(tmp_path), iter=4,
        visualizer=types.SimpleNamespace(
            add_image=lambda name, image, step: steps.append(step)))
    hook.after_train_iter(runner, 4)   # the 5th iteration
    runner.iter = 20                   # 20 iterations done
    hook.after_train(runner)
    assert steps == [5, 20]
    assert sorted(os.listdir(tmp_path / 'samples')) == ['final.png',
                                                        'iter_000005.png']


def test_uint8_images_round_to_the_nearest_level():
    from gentk.utils import to_uint8_image
    levels = torch.tensor([0, 1, 127, 128, 254, 255], dtype=torch.float32)
    # Just below each level's exact value, so truncation would drop it.
    img = (levels / 127.5 - 1 - 1e-4).clamp(-1, 1).view(1, 1, 6).expand(3, 1, 6)
    assert to_uint8_image(img)[0, :, 0].tolist() == levels.int().tolist()
    assert to_uint8_image(torch.full((3, 1, 1), 3.0))[0, 0, 0] == 255  # clamped


def test_writing_a_grid_draws_no_random_numbers_of_the_run(tmp_path):
    """pix2pix samples with dropout on; the grid must not move the
    training run's generators (grids every N iterations or none, same run)."""
    import types

    from gentk.engine.hooks.sample_grid_hook import SampleGridHook
    from test_pix2pixhd import pix2pix_model, scene
    torch.manual_seed(0)
    model = pix2pix_model(num_downs=6)   # dropout in one inner level
    hook = SampleGridHook(num_samples=1)
    hook.batch = scene()
    hook.palette = [(0, 0, 0)] * 4
    runner = types.SimpleNamespace(
        model=model, work_dir=str(tmp_path), iter=0,
        visualizer=types.SimpleNamespace(add_image=lambda *a, **k: None))
    before = torch.get_rng_state()
    hook.write_grid(runner, 'a.png')
    assert torch.equal(torch.get_rng_state(), before)
    # and the sample did draw: two grids differ where dropout is on
    hook.write_grid(runner, 'b.png')
    torch.manual_seed(1)
    hook.write_grid(runner, 'c.png')
    a, b, c = (cv2.imread(str(tmp_path / 'samples' / n)) for n in
               ('a.png', 'b.png', 'c.png'))
    assert (a == b).all() and not (a == c).all()


def test_validation_draws_on_a_copy_of_the_random_states():
    """A resumed run does not repeat the validation after its checkpoint,
    so validating must leave every generator where training left it."""
    import random

    import numpy as np

    from gentk.engine import RandomStateHook
    hook = RandomStateHook()
    torch.manual_seed(3)
    np.random.seed(3)
    random.seed(3)
    expected = torch.rand(2), np.random.rand(2), random.random()
    torch.manual_seed(3)
    np.random.seed(3)
    random.seed(3)
    hook.before_val(None)
    torch.rand(5), np.random.rand(5), random.random()   # the validation
    hook.after_val(None)
    got = torch.rand(2), np.random.rand(2), random.random()
    assert torch.equal(got[0], expected[0])
    assert (got[1] == expected[1]).all() and got[2] == expected[2]


def test_validation_forgets_kernels_cached_before_a_data_swap(
        tmp_path, monkeypatch):
    """mmengine's EMAHook swaps weights in through ``.data``, which leaves
    their versions alone: a kernel transform cached before the swap must
    not evaluate the other weights. GenRunner registers the hook that
    drops the caches at every validation and test epoch, after such swaps."""
    import types

    from mmengine.config import Config

    from gentk.engine.hooks import ForgetKernelCachesHook
    from gentk.engine.runner import GenRunner
    from gentk.models.layers import Conv2d, matmul_conv
    from tiny_config import write_tiny_config
    monkeypatch.setattr(matmul_conv, 'WINOGRAD_MIN_CHANNELS', 8)
    monkeypatch.setattr(matmul_conv, 'WINOGRAD_MIN_TILES', 1)
    torch.manual_seed(0)
    conv = Conv2d(8, 8, 3).eval()
    x = torch.randn(1, 8, 10, 10)
    with torch.no_grad():
        before = conv(x)
        assert conv.route(x) == 'winograd' and '_winograd_cache' in conv.__dict__
        conv.weight.data.copy_(torch.randn_like(conv.weight))   # a swap
        stale = conv(x)
        ForgetKernelCachesHook().before_val_epoch(types.SimpleNamespace(model=conv))
        fresh = conv(x)
        expected = torch.nn.functional.conv2d(x, conv.weight, conv.bias)
    assert torch.equal(stale, before)   # what the hook is there for
    torch.testing.assert_close(fresh, expected, rtol=1e-4, atol=1e-5)
    cfg = Config.fromfile(write_tiny_config(tmp_path))
    cfg.work_dir = str(tmp_path / 'work')
    hooks = GenRunner.from_cfg(cfg).hooks
    assert isinstance(hooks[-1], ForgetKernelCachesHook)   # runs last


def test_a_sample_grid_needs_samples():
    with pytest.raises(ValueError, match='num_samples must be an int >= 1, got 0'):
        SampleGridHook(num_samples=0)
