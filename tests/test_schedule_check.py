"""A shortened run with the full run's schedule is reported."""
from mmengine.config import Config

from gentk.engine.runner import GenRunner
from gentk.engine.schedule_check import unfinished_schedules
from tiny_config import write_tiny_config


def linear(begin, end, by_epoch=False, **extra):
    return dict(type='LinearLR', begin=begin, end=end, by_epoch=by_epoch,
                **extra)


def test_schedules_ending_after_the_run_are_named_in_their_units():
    assert unfinished_schedules([linear(50, 100)], 100, 1) == []
    # No end (mmengine's INF): nothing to finish.
    assert unfinished_schedules([dict(type='MultiStepLR', milestones=[10],
                                      by_epoch=False)], 300, 1) == []
    messages = unfinished_schedules(
        {'generator': [linear(0, 10), linear(1000, 2000)],
         'discriminator': linear(1000, 2000)}, 500, 1)
    assert messages == [
        'param_scheduler.generator.1 (LinearLR) runs from iteration 1000 to '
        '2000, but training stops at iteration 500: the learning rate will '
        'not reach its end value. Shorten the schedule with the run, e.g. '
        '--cfg-options param_scheduler.generator.1.begin=... '
        'param_scheduler.generator.1.end=500',
        messages[1]]
    assert messages[1].startswith('param_scheduler.discriminator.0 (LinearLR)')
    # Epoch-based (mmengine's default), also when converted to iterations.
    epochs = unfinished_schedules(
        [dict(type='LinearLR', begin=100, end=200, convert_to_iter_based=True)],
        10 ** 6, 150)
    assert epochs[0].startswith('param_scheduler.0 (LinearLR) runs from epoch '
                                '100 to 200, but training stops at epoch 150')
    assert epochs[0].endswith('param_scheduler.0.end=150')


def test_the_runner_warns_when_a_run_is_shortened(tmp_path, monkeypatch):
    cfg = Config.fromfile(write_tiny_config(tmp_path, max_iters=8))
    cfg.train_cfg.max_iters = 4   # as --cfg-options train_cfg.max_iters=4
    cfg.work_dir = str(tmp_path / 'work')
    runner = GenRunner.from_cfg(cfg)
    runner.optim_wrapper = runner.build_optim_wrapper(runner.optim_wrapper)
    warnings = []
    monkeypatch.setattr(runner.logger, 'warning', warnings.append)
    schedulers = runner.build_param_scheduler(runner.param_schedulers)
    assert len(warnings) == 1, warnings   # one config entry
    assert 'param_scheduler.0 (LinearLR) runs from iteration 4 to 8, but ' \
           'training stops at iteration 4' in warnings[0]
    assert set(schedulers) == {'generator', 'discriminator'}
