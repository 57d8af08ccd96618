"""Bounded uniform random subsets that merge exactly across ranks.

Metrics that need the samples themselves (KID's features, SWD's patch
descriptors, the MS-SSIM diversity reservoir) keep at most ``capacity`` rows
per rank: every row gets an independent uniform random key and the rows with
the ``capacity`` smallest keys are kept (bottom-k sampling). That is a
uniform sample without replacement of everything added, and two subsets
merge into the subset of their union by the same rule, so the ranks'
subsets combine into exactly the subset a single process would have kept.
The kept rows come out in key order, which is the same however the rows
were dealt out to processes.

Metrics draw every random number of a sample (its keys, SWD's patch
positions) from ``sample_generator(seed, index)``, seeded by the sample's
index in the split: a sample draws the same numbers whichever process
evaluates it, so the scores do not depend on the number of processes.
"""
from typing import List, Sequence

import torch

_MASK = (1 << 64) - 1


def _mix(*values: int) -> int:
    """A 64-bit hash of integers (SplitMix64 steps): nearby inputs give
    unrelated seeds."""
    state = 0
    for value in values:
        state = (state ^ (int(value) & _MASK)) + 0x9E3779B97F4A7C15 & _MASK
        state = (state ^ (state >> 30)) * 0xBF58476D1CE4E5B9 & _MASK
        state = (state ^ (state >> 27)) * 0x94D049BB133111EB & _MASK
        state ^= state >> 31
    return state


def sample_generator(seed: int, index: int, stream: int = 0
                     ) -> torch.Generator:
    """A torch generator for the sample at ``index`` of the split: its draws
    depend on the metric's ``seed``, the index and a ``stream`` number (one
    per use, e.g. per pyramid level) only."""
    return torch.Generator().manual_seed(_mix(seed, index, stream))


def sample_keys(seed: int, indices: Sequence[int], stream: int = 0
                ) -> torch.Tensor:
    """One float64 key in [0, 1) per sample index (``sample_generator``)."""
    return torch.cat([
        torch.rand(1, generator=sample_generator(seed, i, stream),
                   dtype=torch.float64) for i in indices])


class RandomSubset:
    """A uniform random subset of at most ``capacity`` rows of all rows
    added, kept by the ``capacity`` smallest random keys (bottom-k sampling).

    Rows are torch tensors on the CPU (anything ``torch.as_tensor`` takes is
    accepted); the first dimension indexes rows and their dtype is kept.
    Keys are float64 uniform numbers in [0, 1), one per row, drawn by the
    caller (``sample_keys``, or a sample's ``sample_generator``).

    New rows wait in a buffer that is compacted once it holds more than a
    quarter of the capacity beyond it: at most 1.25x the capacity (plus the
    batch being added) is held, and each row is copied a bounded number of
    times. ``rows`` and ``keys`` are those buffered chunks (one chunk, in
    key order, after a compaction).

    Args:
        capacity: the most rows kept.
    """

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f'RandomSubset: capacity must be >= 1, got '
                             f'{capacity}')
        self.capacity = capacity
        self.seen = 0  # rows added, merged ones included
        self.keys: List[torch.Tensor] = []
        self.rows: List[torch.Tensor] = []
        self._buffered = 0

    def add(self, rows, keys) -> 'RandomSubset':
        """Offer ``rows`` with their ``keys`` (one uniform [0, 1) number per
        row)."""
        rows = torch.as_tensor(rows).detach().cpu()
        keys = torch.as_tensor(keys, dtype=torch.float64).cpu()
        if keys.shape != (len(rows), ):
            raise ValueError(f'RandomSubset.add: {len(rows)} rows but keys '
                             f'of shape {tuple(keys.shape)}')
        self.seen += len(rows)
        self._push(rows, keys)
        return self

    def merge(self, other: 'RandomSubset') -> 'RandomSubset':
        """Fold ``other`` (e.g. another rank's subset) into this one: the
        result is the subset of the union. ``other`` is left as it was."""
        for rows, keys in zip(other.rows, other.keys):
            self._push(rows, keys)
        self.seen += other.seen
        return self

    @classmethod
    def union(cls, parts: Sequence['RandomSubset']) -> 'RandomSubset':
        """A new subset of the union of ``parts``, merged in their order."""
        parts = list(parts)
        out = cls(parts[0].capacity)
        for part in parts:
            out.merge(part)
        return out

    def _push(self, rows: torch.Tensor, keys: torch.Tensor) -> None:
        self.rows.append(rows)
        self.keys.append(keys)
        self._buffered += len(keys)
        if self._buffered > self.capacity + self.capacity // 4:
            self._compact()

    def _compact(self) -> None:
        """Keep the rows of the ``capacity`` smallest keys, in key order."""
        keys, rows = torch.cat(self.keys), torch.cat(self.rows)
        keep = keys.sort(stable=True).indices[:self.capacity]
        self.keys, self.rows = [keys[keep]], [rows[keep]]
        self._buffered = len(keep)

    def values(self) -> torch.Tensor:
        """The kept rows, [min(seen, capacity), ...], in the order of their
        keys (``keys[0]``): the same order whichever process added them."""
        if not self.rows:
            raise ValueError('RandomSubset.values: nothing was added')
        self._compact()
        return self.rows[0]

    @property
    def features(self) -> torch.Tensor:
        """``values()``, under the name KID's feature sample uses."""
        return self.values()

    def __len__(self) -> int:
        return min(self.seen, self.capacity)
