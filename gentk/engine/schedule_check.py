"""Warn about learning-rate schedules that outlast their run.

mmengine's schedulers count absolute iterations (or epochs), so shortening
a run (``--cfg-options train_cfg.max_iters=500``) leaves a decay that was
written for the full length unfinished: training stops before the learning
rate gets anywhere near its end value, and nothing says so.
"""
from typing import Iterator, List, Optional, Tuple, Union

from mmengine.optim.scheduler.param_scheduler import INF

SchedulerCfgs = Union[list, dict]


def _path(role: Optional[str], index: int) -> str:
    """A scheduler's place in the config, as ``--cfg-options`` names it."""
    return ('param_scheduler' if role is None
            else f'param_scheduler.{role}') + f'.{index}'


def _entries(cfgs: SchedulerCfgs) -> Iterator[Tuple[str, dict]]:
    """``(config path, scheduler config)``; GAN runs may give one list per
    optimiser wrapper. Schedulers given as objects are not checked."""
    if isinstance(cfgs, dict) and 'type' in cfgs:
        cfgs = [cfgs]
    groups = (cfgs.items() if isinstance(cfgs, dict)
              else [(None, cfgs)])
    for role, group in groups:
        if isinstance(group, dict):
            group = [group]
        for index, cfg in enumerate(group or []):
            if isinstance(cfg, dict):
                yield _path(role, index), cfg


def unfinished_schedules(cfgs: Optional[SchedulerCfgs], max_iters: int,
                         max_epochs: Optional[int]) -> List[str]:
    """One message per scheduler config whose ``end`` lies beyond the run's
    last iteration (or epoch, for ``by_epoch`` ones, mmengine's default),
    in the config's own units."""
    messages = []
    for path, cfg in _entries(cfgs or []):
        end = cfg.get('end', INF)
        by_epoch = cfg.get('by_epoch', True)
        length, unit = ((max_epochs, 'epoch') if by_epoch
                        else (max_iters, 'iteration'))
        if end >= INF or length is None or end <= length:
            continue
        messages.append(
            f"{path} ({cfg.get('type')}) runs from {unit} "
            f"{cfg.get('begin', 0)} to {end}, but training stops at {unit} "
            f'{length}: the learning rate will not reach its end value. '
            f'Shorten the schedule with the run, e.g. --cfg-options '
            f'{path}.begin=... {path}.end={length}')
    return messages


def scheduler_spans(schedulers) -> List[Tuple[str, int, int]]:
    """``(name, begin, end)`` of built schedulers (a list, or a dict of
    lists per optimiser wrapper), in the units they count."""
    groups = (schedulers.items() if isinstance(schedulers, dict)
              else [(None, schedulers or [])])
    return [(_path(role, index), scheduler.begin, scheduler.end)
            for role, group in groups for index, scheduler in enumerate(group)]


def resume_changes(configured: List[Tuple[str, int, int]],
                   resumed: List[Tuple[str, int, int]], step: int,
                   last_step: int) -> List[str]:
    """Warnings for a resume: schedulers come back as they were saved, so a
    span the config changed since is not the one that runs; and a run
    resumed at or past its end trains nothing."""
    messages = [
        f'{name}: the checkpoint\'s schedule (begin={old_begin}, '
        f'end={old_end}) replaces the config\'s (begin={begin}, end={end}); '
        'a resumed run keeps the schedule it was saved with'
        for (name, begin, end), (_, old_begin, old_end)
        in zip(configured, resumed) if (begin, end) != (old_begin, old_end)]
    if step >= last_step:
        messages.append(f'resumed at {step} of {last_step}: nothing left to '
                        'train (raise max_iters / max_epochs to go on)')
    return messages
