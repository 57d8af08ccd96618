"""Sample grids, the progress bar and the TensorBoard backend in a real run."""
import glob
import io

import cv2
import torch
from rich.console import Console

from gentk.engine import RichProgressHook
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


def test_progress_bar_shows_iterations_and_losses():
    buffer = io.StringIO()
    hook = RichProgressHook(refresh_interval=1,
                            console=Console(file=buffer, width=120,
                                            force_terminal=False))
    runner = FakeRunner()
    hook.before_train(runner)
    for i in range(10):
        runner.iter = i
        hook.after_train_iter(runner, i, outputs={'loss_gan': torch.tensor(0.25)})
    hook.after_train(runner)
    text = buffer.getvalue()
    assert '10/10' in text and 'gan=0.250' in text
