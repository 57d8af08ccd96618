"""A folder of real-data statistics, reused across evaluations.

Real images do not change between evaluations of different generators, so
their Inception statistics (FID's mean and covariance, KID's feature sample)
are computed once and stored under a hash of everything they depend on:

* the dataset description string given by the config (``dataset_key``:
  name it after the split, resolution and anything else that changes the
  images, e.g. ``'cityscapes-val-256x128'``),
* the preprocessing settings (resize, input range, quantisation, ...),
* the SHA-256 of the network weights file (its content, not its path),
* what is stored (e.g. ``'fid-gaussian'`` or ``'kid-features'`` and its
  sample size).

Change any of them and the key changes: a miss, recomputed and written under
the new key (old files stay; delete the folder to reclaim space). Files are
``<kind>-<key[:20]>.npz``, written to a temporary file in the same folder and
renamed with ``os.replace``, so concurrent readers see a whole file or none;
the full description is stored inside and checked on load. Loading uses
``allow_pickle=False``: only arrays.
"""
import hashlib
import json
import os
import os.path as osp
from typing import Dict, Optional, Tuple

import numpy as np

from gentk.utils.checkpoint_io import atomic_open

_DIGESTS: Dict[Tuple[str, int, int], str] = {}


def file_sha256(path: str) -> str:
    """SHA-256 of a file's content, remembered per (path, mtime, size) so a
    ~95 MB weights file is read once per process."""
    stat = os.stat(path)
    key = (osp.abspath(path), stat.st_mtime_ns, stat.st_size)
    if key not in _DIGESTS:
        digest = hashlib.sha256()
        with open(path, 'rb') as f:
            for block in iter(lambda: f.read(1 << 20), b''):
                digest.update(block)
        _DIGESTS[key] = digest.hexdigest()
    return _DIGESTS[key]


class RealStatsCache:
    """Arrays stored under a hash of a JSON-able description."""

    def __init__(self, folder: str) -> None:
        self.folder = folder

    @staticmethod
    def describe(description: dict) -> str:
        return json.dumps(description, sort_keys=True)

    def path(self, description: dict) -> str:
        text = self.describe(description)
        key = hashlib.sha256(text.encode()).hexdigest()[:20]
        kind = str(description.get('kind', 'stats'))
        return osp.join(self.folder, f'{kind}-{key}.npz')

    def contains(self, description: dict) -> bool:
        return osp.isfile(self.path(description))

    def load(self, description: dict) -> Optional[Dict[str, np.ndarray]]:
        """The stored arrays, or None on a miss."""
        path = self.path(description)
        if not osp.isfile(path):
            return None
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
        stored = str(arrays.pop('description', ''))
        if stored != self.describe(description):  # a hash collision, or a
            return None                           # hand-edited file
        return arrays

    def save(self, description: dict, arrays: Dict[str, np.ndarray]) -> str:
        path = self.path(description)
        with atomic_open(path, 'wb', suffix='.npz') as f:
            np.savez(f, description=np.array(self.describe(description)),
                     **arrays)
        return path
