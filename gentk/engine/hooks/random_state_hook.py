"""Resumed runs draw the random numbers of uninterrupted ones."""
from mmengine.dist import get_rank, get_world_size
from mmengine.hooks import Hook
from mmengine.runner import IterBasedTrainLoop

from gentk.registry import HOOKS
from gentk.utils.random_state import (capture_random_states,
                                      restore_random_states)


def ranks_draw_own_numbers(runner) -> bool:
    """Whether the processes of a distributed run were seeded apart
    (``randomness=dict(diff_rank_seed=True)``)."""
    randomness = getattr(runner, '_randomness_cfg', None) or {}
    return get_world_size() > 1 and bool(randomness.get('diff_rank_seed'))


@HOOKS.register_module()
class RandomStateHook(Hook):
    """Keeps the random number generators' states with the training state.

    * Checkpoints carry the states as of the save (``random_states``);
      where the ranks draw their own numbers (``diff_rank_seed=True``),
      every rank's (``rank_random_states``, collected by
      ``GenRunner.save_checkpoint``).
    * A resumed run puts them back where the uninterrupted run stood. The
      epoch-based loop starts a fresh epoch: all three come back at the
      end of ``before_train`` (this hook runs last, so the hooks before it,
      such as the sample grid's fixed inputs, run first in both runs).
      mmengine's iteration-based loop replays the data loading from the
      start, which re-creates the data transforms' generators (numpy,
      Python) by itself: there torch's comes back after the replay, just
      before the batch of the first resumed iteration is fetched.
    * Validation runs on a copy of the states: a resumed run does not
      repeat the validation after its checkpoint, so validating must not
      move the training run's generators.

    ``GenRunner`` registers it; it needs no config entry.
    """

    priority = 'LOWEST'

    def __init__(self) -> None:
        self._resumed = None
        self._outside_val = None

    def states_to_save(self) -> dict:
        """The training run's generator states: during validation (where
        ``save_best`` saves) those of before it, which ``after_val`` puts
        back, not the ones validation has moved."""
        return self._outside_val or capture_random_states()

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint['random_states'] = self.states_to_save()

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        if not getattr(runner, '_resuming', False):
            return
        self._resumed = checkpoint.get('random_states')
        if ranks_draw_own_numbers(runner):
            # Each rank drew its own numbers: it takes its own states back,
            # which only a checkpoint of as many processes has.
            per_rank = checkpoint.get('rank_random_states') or []
            if len(per_rank) == get_world_size():
                self._resumed = per_rank[get_rank()]
            else:
                self._resumed = None
                runner.logger.warning(
                    'diff_rank_seed=True: the checkpoint holds the random '
                    f'states of {len(per_rank) or "no"} separate ranks, this '
                    f'run has {get_world_size()}; the resumed run draws other '
                    'numbers.')

    def before_train(self, runner) -> None:
        states, self._resumed = self._resumed, None
        if states is None:
            return
        loop = runner.train_loop
        if isinstance(loop, IterBasedTrainLoop) and loop.iter > 0:
            # The loop replays loop.iter batches next; a finite sampler's
            # DataLoader draws a seed from torch at each new pass, so
            # torch's state goes back only once the replay is done.
            loop.dataloader_iterator = _RestoreAfterReplay(
                loop.dataloader_iterator, loop.iter, states)
        else:
            restore_random_states(states)

    def before_val(self, runner) -> None:
        self._outside_val = capture_random_states()

    def after_val(self, runner) -> None:
        states, self._outside_val = self._outside_val, None
        if states is not None:
            restore_random_states(states)


class _RestoreAfterReplay:
    """The training loop's data iterator, which puts torch's random state
    back after ``replayed`` batches, before it hands out the next one."""

    def __init__(self, iterator, replayed: int, states: dict) -> None:
        self._iterator = iterator
        self._replayed = replayed
        self._states = states

    def __iter__(self):
        return self

    def __next__(self):
        if self._replayed == 0 and self._states is not None:
            restore_random_states(self._states, data=False)
            self._states = None
        self._replayed -= 1
        return next(self._iterator)

    def __getattr__(self, name: str):
        return getattr(self._iterator, name)
