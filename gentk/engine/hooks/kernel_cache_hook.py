"""Validation and testing see the weights they are meant to see."""
from mmengine.hooks import Hook

from gentk.models.layers import forget_cached_kernels
from gentk.registry import HOOKS


@HOOKS.register_module()
class ForgetKernelCachesHook(Hook):
    """Drops the Winograd kernel transforms that convolutions keep between
    evaluation-mode calls, at the start and end of every validation and
    test epoch.

    A transform knows its weight is unchanged by the weight's version, and
    weights swapped in through ``.data`` keep theirs: mmengine's
    ``EMAHook`` swaps the averaged weights in before validation and back
    after it that way, so a transform cached just before (e.g. by a sample
    grid) would evaluate the other weights. The lowest priority runs it
    after such swaps; recomputing the transforms costs one pass over the
    weights per epoch.

    ``GenRunner`` registers it.
    """

    priority = 'LOWEST'

    @staticmethod
    def _forget(runner) -> None:
        forget_cached_kernels(runner.model)

    def before_val_epoch(self, runner) -> None:
        self._forget(runner)

    def after_val_epoch(self, runner, metrics=None) -> None:
        self._forget(runner)

    def before_test_epoch(self, runner) -> None:
        self._forget(runner)

    def after_test_epoch(self, runner, metrics=None) -> None:
        self._forget(runner)
