"""Every rank validates and ends with the model that rank 0 saves."""
from mmengine.dist import broadcast, get_world_size
from mmengine.hooks import Hook

from gentk.registry import HOOKS


@HOOKS.register_module()
class BroadcastBuffersHook(Hook):
    """Copies rank 0's buffers (batch-norm running statistics) to every rank
    before validation and at the end of training.

    Each rank updates the statistics with its own batches, and batch norms
    cannot be synchronised on CPU (``SyncBatchNorm`` needs a GPU). Without
    this, each rank would score its share of the validation set with its
    own statistics, and only rank 0's end up in the checkpoint. (DDP's
    ``broadcast_buffers`` would copy them in every forward, which makes
    every forward, sampling included, a collective.)

    ``GenRunner`` registers it; it does nothing in a single process.
    """

    priority = 'ABOVE_NORMAL'

    @staticmethod
    def _broadcast(runner) -> None:
        if get_world_size() == 1:
            return
        for buffer in runner.model.buffers():
            broadcast(buffer, src=0)

    def before_val_epoch(self, runner) -> None:
        self._broadcast(runner)

    def after_train(self, runner) -> None:
        self._broadcast(runner)
