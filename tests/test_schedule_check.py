"""A shortened run with the full run's schedule is reported."""
import torch
from mmengine.config import Config
from mmengine.optim import LinearLR

from gentk.engine.runner import GenRunner
from gentk.engine.schedule_check import unfinished_schedules
from tiny_config import write_tiny_config


def schedule(begin, end, by_epoch=False):
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    return LinearLR(optimizer, start_factor=1.0, end_factor=0.0, begin=begin,
                    end=end, by_epoch=by_epoch)


def test_schedules_ending_after_the_run_are_named():
    assert unfinished_schedules([schedule(50, 100)], 100, 1) == []
    messages = unfinished_schedules(
        {'generator': [schedule(0, 10), schedule(1000, 2000)]}, 500, 1)
    assert len(messages) == 1
    assert messages[0].startswith('param_scheduler (generator) 1, LinearLR, '
                                  'runs from iteration 1000 to 2000, but '
                                  'training stops at iteration 500')
    epochs = unfinished_schedules([schedule(100, 200, by_epoch=True)], 10**6, 150)
    assert 'epoch 100 to 200, but training stops at epoch 150' in epochs[0]


def test_the_runner_warns_when_a_run_is_shortened(tmp_path, monkeypatch):
    cfg = Config.fromfile(write_tiny_config(tmp_path, max_iters=8))
    cfg.train_cfg.max_iters = 4   # as --cfg-options train_cfg.max_iters=4
    cfg.work_dir = str(tmp_path / 'work')
    runner = GenRunner.from_cfg(cfg)
    runner.optim_wrapper = runner.build_optim_wrapper(runner.optim_wrapper)
    warnings = []
    monkeypatch.setattr(runner.logger, 'warning', warnings.append)
    runner.build_param_scheduler(runner.param_schedulers)
    assert len(warnings) == 2, warnings   # one per optimiser
    assert all('from iteration 4 to 8, but training stops at iteration 4'
               in w for w in warnings)
