"""Warn about learning-rate schedules that outlast their run.

mmengine's schedulers count absolute iterations (or epochs), so shortening
a run (``--cfg-options train_cfg.max_iters=500``) leaves a decay that was
written for the full length unfinished: training stops before the learning
rate gets anywhere near its end value, and nothing says so.
"""
import math
from typing import Iterator, List, Tuple, Union

from mmengine.optim import _ParamScheduler

Schedulers = Union[List[_ParamScheduler], dict]


def _flatten(schedulers: Schedulers) -> Iterator[Tuple[str, int, object]]:
    """``(optimiser name, index, scheduler)``; GAN runs keep one list per
    optimiser wrapper."""
    groups = (schedulers.items() if isinstance(schedulers, dict)
              else [('', schedulers)])
    for name, group in groups:
        for index, scheduler in enumerate(group or []):
            yield name, index, scheduler


def unfinished_schedules(schedulers: Schedulers, max_iters: int,
                         max_epochs: int) -> List[str]:
    """One message per scheduler whose ``end`` lies beyond the run's last
    iteration (or epoch, for epoch-based ones)."""
    messages = []
    for name, index, scheduler in _flatten(schedulers):
        end = getattr(scheduler, 'end', math.inf)
        by_epoch = getattr(scheduler, 'by_epoch', False)
        length, unit = (max_epochs, 'epoch') if by_epoch else (max_iters, 'iteration')
        if math.isinf(end) or length is None or end <= length:
            continue
        where = f'param_scheduler ({name}) ' if name else 'param_scheduler '
        messages.append(
            f'{where}{index}, {type(scheduler).__name__}, runs from {unit} '
            f'{scheduler.begin} to {end}, but training stops at {unit} '
            f'{length}: the learning rate will not reach its end value. '
            f'Shorten the schedule with the run, e.g. --cfg-options '
            f'param_scheduler.{index}.begin=... '
            f'param_scheduler.{index}.end={length}')
    return messages
