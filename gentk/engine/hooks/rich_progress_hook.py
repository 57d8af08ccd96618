"""A rich progress bar over training iterations, with the latest losses."""
import logging
import sys
from typing import Optional

from mmengine.hooks import Hook
from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                           TimeElapsedColumn, TimeRemainingColumn)

from gentk.registry import HOOKS


@HOOKS.register_module()
class RichProgressHook(Hook):
    """Shows iteration progress, elapsed and remaining time, and losses.

    The bar is drawn on terminals only: in a log file or a CI log the
    logger's lines report progress, and a bar would be one line at the end.
    While it is drawn, the run's log lines print above it (the logger's
    console handlers write through the bar's display). ``GenRunner`` stops
    it when training ends in an error too, so the traceback is not drawn
    over.

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
        self._streams = []   # (handler, the stream it had)

    def before_train(self, runner) -> None:
        console = self.console or Console(stderr=True)
        if runner.rank != 0 or not console.is_terminal:
            return
        self.progress = Progress(
            TextColumn('[bold]train'), BarColumn(), MofNCompleteColumn(),
            TimeElapsedColumn(), TextColumn('<'), TimeRemainingColumn(),
            TextColumn('{task.description}'), console=console, transient=False)
        self.task = self.progress.add_task(
            '', total=runner.max_iters, completed=runner.iter)
        self.progress.start()
        # The display has put proxies in place of sys.stdout / sys.stderr
        # that print above the bar; the logger's handlers hold the streams
        # they were made with, so they are pointed at the proxies.
        proxies = {sys.__stdout__: sys.stdout, sys.__stderr__: sys.stderr}
        for handler in getattr(runner.logger, 'handlers', []):
            if type(handler) is logging.StreamHandler and handler.stream in proxies:
                self._streams.append((handler, handler.setStream(
                    proxies[handler.stream])))

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
        self.stop()

    def stop(self) -> None:
        """Take the bar down and give the log handlers their streams back."""
        for handler, stream in self._streams:
            handler.setStream(stream)
        self._streams = []
        if self.progress is not None:
            self.progress.stop()
            self.progress = None
