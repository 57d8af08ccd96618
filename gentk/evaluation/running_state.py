"""Metrics that keep one running state per process, without the sampler's
repeats.

To give every process as many samples, mmengine's ``DefaultSampler`` pads
the split with repeats of its first samples and deals position ``p`` of the
padded list to process ``p mod world_size``; the repeats take the positions
from ``size`` on, so each is the last sample of its process. Metrics that
store one result per sample lose them when ``collect_results`` cuts the
gathered list to ``size``. Metrics that fold samples into one running state
(FID's sums, KID's and MS-SSIM's reservoirs, SWD's descriptors) cannot
take a sample out again, so without care their scores would change with
the number of processes.

``RunningStateMetric`` holds back the last sample each process has seen
and, once ``evaluate(size)`` says how long the split is, folds it in only
if it is one of the split's own samples. A single process gets no repeats,
so it folds every sample in as it comes.

Random draws must not depend on the process count either: each sample
carries its index in the split (``sample_idx``, which datasets put in the
data samples' metainfo; where it is missing, the position
``DefaultSampler`` gives it), and metrics seed a sample's draws with it
(``random_subset.sample_generator``). The Inception Score's splits are
chosen by it too. (mmengine's ``ConcatDataset`` numbers each part from 0:
its parts' samples share indices, and so their draws.)
"""
from typing import Any, List, Optional, Sequence

import numpy as np
from mmengine.dist import get_rank, get_world_size
from mmengine.evaluator import BaseMetric


def sampler_position(k: int) -> int:
    """The split position of this process's ``k``-th sample (from 0):
    ``DefaultSampler`` deals position p to process p mod world size."""
    return k * get_world_size() + get_rank()


def is_sampler_repeat(seen: int, size: int) -> bool:
    """Whether the last of the ``seen`` samples this process evaluated is a
    repeat that ``DefaultSampler`` added to a split of ``size`` samples."""
    return sampler_position(seen - 1) >= size


def sample_field(sample: Any, key: str) -> Any:
    """``sample[key]`` or None: mmengine hands metrics dicts; direct callers
    may pass data elements (fields and metainfo as attributes)."""
    if isinstance(sample, dict):
        return sample.get(key)
    return getattr(sample, key, None)


def sample_index(sample: Any) -> Optional[int]:
    """A sample's ``sample_idx``; None if it has none."""
    index = sample_field(sample, 'sample_idx')
    return None if index is None else int(index)


def sample_indices(data_samples: Sequence[Any]) -> np.ndarray:
    """The samples' indices in the split (``sample_idx``)."""
    return np.array([sample_index(s) for s in data_samples], dtype=np.int64)


class RunningStateMetric(BaseMetric):
    """A metric whose subclass implements ``process_samples(samples)``
    (folding samples into its running state) instead of ``process``. Every
    sample reaches it with its ``sample_idx`` (see the module doc)."""

    _held: Optional[Any] = None   # this process's latest sample
    _seen: int = 0                # samples this process has evaluated

    def process_samples(self, data_samples: List[Any]) -> None:
        raise NotImplementedError

    def process(self, data_batch: Any, data_samples: Sequence) -> None:
        samples = list(data_samples)
        if not samples:
            return
        for sample in samples:
            if sample_index(sample) is None:
                index = sampler_position(self._seen)
                if isinstance(sample, dict):
                    sample['sample_idx'] = index
                else:
                    sample.set_metainfo(dict(sample_idx=index))
            self._seen += 1
        if get_world_size() == 1:
            self.process_samples(samples)
            return
        if self._held is not None:
            samples.insert(0, self._held)
        self._held = samples.pop()
        if samples:
            self.process_samples(samples)

    def evaluate(self, size: int) -> dict:
        held, seen = self._held, self._seen
        self._held, self._seen = None, 0
        if held is not None and not is_sampler_repeat(seen, size):
            self.process_samples([held])
        return super().evaluate(size)
