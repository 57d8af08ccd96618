"""Reading and writing weight files.

Two trust levels, on purpose:

* ``load_weights`` reads any file a user hands in (VGG, Inception, PSPNet, a
  pretrained generator) with ``weights_only=True``: tensors and plain
  containers only, no code can run while unpickling.
* ``load_trusted_checkpoint`` reads a checkpoint that a gentk run wrote
  itself, to resume it. mmengine stores its ``MessageHub`` history objects in
  those, which the restricted unpickler refuses under torch >= 2.6.
  ``GenRunner`` uses it only for files inside the run's own work dir
  (``engine.runner.load_resume_checkpoint``); a checkpoint handed in from
  elsewhere resumes through ``load_weights``, which gentk's own pass: it
  writes the message hub as plain data.

``atomic_open`` (and ``atomic_save``, ``atomic_write_text`` built on it)
writes through a temporary file in the destination folder and
``os.replace``: a reader (or a resumed run) sees the old file or the new one,
never a truncated one.
"""
import os
import os.path as osp
import pickle
import re
import tempfile
from contextlib import contextmanager
from typing import IO, Any, Iterable, Iterator, List, Mapping, Optional

import torch


def _require_file(path: str, what: str) -> None:
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'{what} file not found: {path!r}. gentk never downloads weights; '
            'give the path of a local file.')


def load_weights(path: str, map_location: Any = 'cpu',
                 what: str = 'weights') -> Any:
    """Load a user-supplied weight file safely (``weights_only=True``).
    A file that holds more than tensors and plain containers, and one that
    is not a readable torch file at all (truncated, empty, something else),
    are ``ValueError``s that name the file and say which it is."""
    _require_file(path, what)
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        # The unpickler names the Python object it refused to rebuild.
        refused = re.search(r'GLOBAL (\S+)', str(err))
        if refused:
            raise ValueError(
                f'could not load {what} file {path!r} with weights_only=True: '
                f'it refers to the Python object {refused.group(1)}, and gentk '
                'runs no code from files it did not write itself. Save the '
                'weights as a plain state_dict (tensors and plain '
                'containers).') from err
        raise _unreadable(path, what, err) from err
    except Exception as err:  # torch and the unpickler raise several types
        raise _unreadable(path, what, err) from err


def _unreadable(path: str, what: str, err: Exception) -> ValueError:
    detail = str(err).strip().splitlines()
    detail = f': {detail[0]}' if detail else ''
    return ValueError(
        f'{what} file {path!r} is not a readable torch file '
        f'({type(err).__name__}{detail}); is it truncated, or not a '
        'checkpoint? (read with weights_only=True)')


def load_trusted_checkpoint(path: str, map_location: Any = 'cpu') -> Any:
    """Load a checkpoint written by a gentk run, to resume that run."""
    _require_file(path, 'checkpoint')
    # Trusted: only used for files a gentk run wrote into its work_dir.
    return torch.load(path, map_location=map_location, weights_only=False)


#: Name prefix of the temporary files ``atomic_open`` writes next to the
#: target (hidden, so no checkpoint search picks one up).
TEMP_PREFIX = '.tmp-'


def _read_umask() -> int:
    umask = os.umask(0)   # the only way to read it; set back at once
    os.umask(umask)
    return umask


# Read once, at import: reading it sets it to 0 for a moment, when a file
# made by another thread would be world-writable.
_UMASK = _read_umask()


def new_file_mode() -> int:
    """The permissions ``open(path, 'w')`` would give a new file (0o666
    less the umask, as it was when gentk was imported): mkstemp makes its
    files private (0o600)."""
    return 0o666 & ~_UMASK


@contextmanager
def atomic_open(path: str, mode: str = 'wb', suffix: str = ''
                ) -> Iterator[IO]:
    """Open a temporary file next to ``path`` for writing; when the block
    ends without an error, flush it to disk and ``os.replace`` it onto
    ``path``. On any error (KeyboardInterrupt included) the temporary file
    is removed and ``path`` keeps its old content. Creates the folder."""
    if mode not in ('w', 'wb'):
        raise ValueError(f"atomic_open writes a new file: mode 'w' or 'wb', "
                         f'got {mode!r}')
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=suffix, dir=folder)
    try:
        with os.fdopen(fd, mode) as f:
            # Readable like any file written here.
            if hasattr(os, 'fchmod'):
                os.fchmod(f.fileno(), new_file_mode())
            else:
                os.chmod(tmp, new_file_mode())
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise


def atomic_save(obj: Any, path: str) -> None:
    """``torch.save`` that never leaves a partial file at ``path``."""
    with atomic_open(path, 'wb', suffix='.pth') as f:
        torch.save(obj, f)


def atomic_write_text(text: str, path: str) -> None:
    """Write a small text file atomically (temp file + ``os.replace``)."""
    with atomic_open(path, 'w') as f:
        f.write(text)


def state_dict_from(checkpoint: Any, prefix: Optional[str] = None) -> dict:
    """The model weights inside ``checkpoint`` (a raw state_dict or an
    mmengine checkpoint), optionally only the keys under ``prefix`` with the
    prefix stripped."""
    if isinstance(checkpoint, Mapping) and 'state_dict' in checkpoint:
        checkpoint = checkpoint['state_dict']
    if not isinstance(checkpoint, Mapping):
        raise TypeError(
            f'expected a state_dict (a mapping of tensors), got '
            f'{type(checkpoint).__name__}')
    state = {k[7:] if k.startswith('module.') else k: v
             for k, v in checkpoint.items()}
    if prefix:
        state = {k[len(prefix):]: v for k, v in state.items()
                 if k.startswith(prefix)}
    return state


def weights_needed_to_generate(keys: Iterable[str]) -> List[str]:
    """The keys among ``keys`` (a model's state_dict keys) that sampling
    needs: all but the loss networks' (e.g. the frozen VGG) and the
    discriminator's, which neither generating nor segmenting uses."""
    return [k for k in keys if not k.split('.')[0].endswith('loss')
            and not k.startswith('discriminator.')]
