"""A rich progress bar over training iterations, with the latest losses."""
from typing import Optional

from mmengine.hooks import Hook
from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                           TimeElapsedColumn, TimeRemainingColumn)

from gentk.registry import HOOKS


@HOOKS.register_module()
class RichProgressHook(Hook):
    """Shows iteration progress, elapsed and remaining time, and losses.

    Args:
        refresh_interval: iterations between updates of the loss text.
        console: a rich console (tests pass a recording one).
    """

    priority = 'VERY_LOW'

    def __init__(self, refresh_interval: int = 10,
                 console: Optional[Console] = None):
        self.refresh_interval = refresh_interval
        self.console = console
        self.progress = None

    def before_train(self, runner) -> None:
        if runner.rank != 0:
            return
        self.progress = Progress(
            TextColumn('[bold]train'), BarColumn(), MofNCompleteColumn(),
            TimeElapsedColumn(), TextColumn('<'), TimeRemainingColumn(),
            TextColumn('{task.description}'),
            console=self.console or Console(stderr=True), transient=False)
        self.task = self.progress.add_task(
            '', total=runner.max_iters, completed=runner.iter)
        self.progress.start()

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        if self.progress is None:
            return
        description = None
        if outputs and self.every_n_train_iters(runner, self.refresh_interval):
            description = ' '.join(
                f'{k.replace("loss_", "")}={float(v):.3f}'
                for k, v in outputs.items() if k.startswith('loss'))
        self.progress.update(self.task, completed=runner.iter + 1,
                             description=description)

    def after_train(self, runner) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None
