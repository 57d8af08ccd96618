"""Bounded uniform random subsets that merge exactly across ranks.

Metrics that need the samples themselves (KID's features, SWD's patch
descriptors, the MS-SSIM diversity reservoir) keep at most ``capacity`` rows
per rank: every row gets an independent uniform random key and the rows with
the ``capacity`` smallest keys are kept (bottom-k sampling). That is a
uniform sample without replacement of everything added, and two subsets
merge into the subset of their union by the same rule, so the ranks'
subsets combine into exactly the subset a single process would have kept.
"""
from typing import List, Optional, Sequence

import numpy as np
import torch
from mmengine.dist import get_rank


def rank_generator(seed: int) -> torch.Generator:
    """A torch generator seeded from ``seed`` and this process's rank: ranks
    draw different random numbers from one config seed (equal keys on two
    ranks would correlate their subsets)."""
    return torch.Generator().manual_seed(seed + 1000003 * get_rank())


class RandomSubset:
    """A uniform random subset of at most ``capacity`` rows of all rows
    added, kept by the ``capacity`` smallest random keys (bottom-k sampling).

    Rows are torch tensors on the CPU (anything ``torch.as_tensor`` takes is
    accepted); the first dimension indexes rows and their dtype is kept.
    Keys are float64, either passed to ``add`` by a caller that draws them
    from its own generator, or drawn here from a numpy stream seeded with
    ``(seed, rank)`` (so ranks do not correlate).

    New rows wait in a buffer that is compacted once it holds more than a
    quarter of the capacity beyond it: at most 1.25x the capacity (plus the
    batch being added) is held, and each row is copied a bounded number of
    times. ``rows`` and ``keys`` are those buffered chunks (one chunk after
    a compaction). Kept rows stay in the order they were added (merged rows
    after one's own), so the result does not depend on when compactions
    happened.

    Args:
        capacity: the most rows kept.
        seed: seeds the keys drawn when ``add`` gets none; None: ``add``
            needs keys.
    """

    def __init__(self, capacity: int, seed: Optional[int] = None) -> None:
        if capacity < 1:
            raise ValueError(f'RandomSubset: capacity must be >= 1, got '
                             f'{capacity}')
        self.capacity = capacity
        self.seen = 0  # rows added, merged ones included
        self.keys: List[torch.Tensor] = []
        self.rows: List[torch.Tensor] = []
        self._buffered = 0
        self._rng = (None if seed is None
                     else np.random.default_rng([seed, get_rank()]))

    def add(self, rows, keys: Optional[torch.Tensor] = None
            ) -> 'RandomSubset':
        """Offer ``rows`` with their ``keys`` (one uniform [0, 1) number per
        row; drawn from the seeded stream when None)."""
        rows = torch.as_tensor(rows).detach().cpu()
        if keys is None:
            if self._rng is None:
                raise ValueError('RandomSubset.add: no keys given and no '
                                 'seed to draw them from')
            keys = torch.from_numpy(self._rng.random(len(rows)))
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
        if len(self.keys) <= 1 and self._buffered <= self.capacity:
            return
        keys, rows = torch.cat(self.keys), torch.cat(self.rows)
        if len(keys) > self.capacity:
            keep = keys.topk(self.capacity, largest=False).indices.sort().values
            keys, rows = keys[keep], rows[keep]
        self.keys, self.rows, self._buffered = [keys], [rows], len(keys)

    def values(self) -> torch.Tensor:
        """The kept rows, [min(seen, capacity), ...], in the order added;
        their keys are then ``keys[0]``."""
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
