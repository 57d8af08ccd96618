"""A process's random number generators, as plain data and back.

A resumed run draws the same random numbers as an uninterrupted one only
if the checkpoint carries the generators' states: torch's (dropout, noise,
pix2pix's test-time dropout) and, for data transforms that run in the main
process, numpy's and Python's. The states are stored as tensors, ints and
tuples, so checkpoints still load with ``weights_only=True``.
"""
import random
from contextlib import contextmanager
from typing import Iterator

import numpy as np
import torch


def capture_random_states() -> dict:
    """torch (CPU, and the current CUDA device's where CUDA is in use),
    numpy and Python states."""
    kind, keys, pos, has_gauss, cached_gaussian = np.random.get_state()
    states = {
        'torch': torch.get_rng_state(),
        'numpy': (kind, torch.from_numpy(keys.astype(np.int64)), int(pos),
                  int(has_gauss), float(cached_gaussian)),
        'python': random.getstate(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        # This process's device only: under DDP each rank has its own, and
        # the checkpoint (rank 0's) goes back to every rank's own device.
        states['cuda'] = torch.cuda.get_rng_state()
    return states


def restore_random_states(states: dict, data: bool = True) -> None:
    """Set the generators to ``states``; ``data=False`` leaves numpy's and
    Python's (the data transforms') as they are."""
    # .cpu(): mmengine's resume maps the whole checkpoint to the GPU.
    torch.set_rng_state(states['torch'].cpu())
    if 'cuda' in states and torch.cuda.is_available():
        torch.cuda.set_rng_state(states['cuda'].cpu())
    if not data:
        return
    kind, keys, pos, has_gauss, cached_gaussian = states['numpy']
    np.random.set_state((kind, keys.cpu().numpy().astype(np.uint32), pos,
                         has_gauss, cached_gaussian))
    version, internal, gauss_next = states['python']
    random.setstate((version, tuple(internal), gauss_next))


@contextmanager
def isolated_random_states() -> Iterator[None]:
    """Whatever runs inside leaves every generator as it found it."""
    states = capture_random_states()
    try:
        yield
    finally:
        restore_random_states(states)
