"""Resumed runs draw the random numbers of uninterrupted ones."""
from mmengine.dist import get_world_size
from mmengine.hooks import Hook
from mmengine.runner import IterBasedTrainLoop

from gentk.registry import HOOKS
from gentk.utils.random_state import (capture_random_states,
                                      restore_random_states)


@HOOKS.register_module()
class RandomStateHook(Hook):
    """Keeps the random number generators' states with the training state.

    * Checkpoints carry the states as of the save (``random_states``).
    * A resumed run puts them back at the end of ``before_train`` (this
      hook runs last), which is where the uninterrupted run stood: the
      hooks before it, such as the sample grid's fixed inputs, run in both
      runs first. mmengine's iteration-based loop then replays the data
      loading from the start, which re-creates the data transforms'
      generators (numpy, Python) by itself, so there only torch's is put
      back; the epoch-based loop starts a fresh epoch and gets all three.
    * Validation runs on a copy of the states: a resumed run does not
      repeat the validation after its checkpoint, so validating must not
      move the training run's generators.

    ``GenRunner`` registers it; it needs no config entry.
    """

    priority = 'LOWEST'

    def __init__(self) -> None:
        self._resumed = None
        self._outside_val = None

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint['random_states'] = capture_random_states()

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        if getattr(runner, '_resuming', False):
            self._resumed = checkpoint.get('random_states')

    def before_train(self, runner) -> None:
        states, self._resumed = self._resumed, None
        if states is None:
            return
        randomness = getattr(runner, '_randomness_cfg', None) or {}
        if get_world_size() > 1 and randomness.get('diff_rank_seed'):
            # The checkpoint holds rank 0's states only.
            runner.logger.warning(
                'diff_rank_seed=True: the random states of the ranks are not '
                'in the checkpoint; the resumed run draws other numbers.')
            return
        replays_data = isinstance(runner.train_loop, IterBasedTrainLoop)
        restore_random_states(states, data=not replays_data)

    def before_val(self, runner) -> None:
        self._outside_val = capture_random_states()

    def after_val(self, runner) -> None:
        states, self._outside_val = self._outside_val, None
        if states is not None:
            restore_random_states(states)
