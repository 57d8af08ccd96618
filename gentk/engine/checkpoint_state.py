"""What a gentk checkpoint holds, and where a run finds the one to resume.

* The message hub is stored as plain data (``message_hub_to_plain``), so a
  gentk checkpoint opens with ``weights_only=True`` too.
* Weights are stored under bare names (``bare_state_dict``): the same keys
  with and without distributed training.
* ``load_resume_checkpoint`` trusts (fully unpickles) only files inside the
  run's own work dir; ``find_resumable_checkpoint`` falls back to the
  newest training checkpoint when ``last_checkpoint`` is missing, empty or
  stale.
* ``check_training_checkpoint`` and ``check_generator_weights`` refuse a
  file that does not fit the model before anything is loaded from it.
"""
import glob
import itertools
import os.path as osp
import re
from collections import OrderedDict
from typing import Any, Optional

import numpy as np
import torch
from mmengine.logging import HistoryBuffer
from mmengine.model import is_model_wrapper

from gentk.utils import (load_trusted_checkpoint, load_weights,
                         weights_needed_to_generate)

# What the checkpoint hook names a training checkpoint (not best_*.pth).
_CKPT_NAME = re.compile(r'^(iter|epoch)_(\d+)\.pth$')


def to_plain(obj: Any) -> Any:
    """Containers of tensors/python scalars only (what weights_only reads)."""
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, dict):
        return type(obj)((k, to_plain(v)) for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        return type(obj)(to_plain(v) for v in obj)
    if hasattr(obj, 'cpu'):
        return obj.cpu()
    return obj


def message_hub_to_plain(state: dict) -> dict:
    plain = dict(state)
    plain['log_scalars'] = {
        key: {'log_history': buf._log_history.tolist(),
              'count_history': buf._count_history.tolist(),
              'max_length': buf.max_length}
        for key, buf in state['log_scalars'].items()}
    plain['runtime_info'] = to_plain(dict(state['runtime_info']))
    plain['resumed_keys'] = dict(state['resumed_keys'])
    return plain


def message_hub_from_plain(state: dict) -> dict:
    restored = dict(state)
    restored['log_scalars'] = {
        key: buf if isinstance(buf, HistoryBuffer) else HistoryBuffer(
            buf['log_history'], buf['count_history'], buf['max_length'])
        for key, buf in state['log_scalars'].items()}
    return restored


def wrapped_prefixes(model) -> list:
    """Names of the submodules that sit inside a (DDP) wrapper."""
    return [name for name, m in model.named_modules()
            if name and is_model_wrapper(m)]


def bare_key_namer(model):
    """A function from ``model``'s own key names to the bare ones: without
    the ``.module`` of wrapped submodules."""
    renames = [(f'{p}.module', p) for p in wrapped_prefixes(model)]

    def rename(key: str) -> str:
        for inner, outer in renames:
            if key == inner or key.startswith(inner + '.'):
                return outer + key[len(inner):]
        return key
    return rename


def bare_state_dict(model) -> dict:
    """``model.state_dict()`` without the ``.module`` of wrapped submodules,
    so checkpoints have the same keys with and without distributed training."""
    state = model.state_dict()
    rename = bare_key_namer(model)
    bare = OrderedDict((rename(k), v) for k, v in state.items())
    bare._metadata = OrderedDict(  # per-module versions, same renaming
        (rename(k), v) for k, v in getattr(state, '_metadata', {}).items())
    return bare


# What ``last_checkpoint`` says after a fresh run started in a work dir
# that held an earlier run's checkpoints, until it saves its own.
NOTHING_SAVED_YET = 'none: the latest run has saved no checkpoint yet'


def training_checkpoints(work_dir: str) -> list:
    """``(number, path)`` of the iteration/epoch checkpoints in
    ``work_dir``, in no particular order."""
    found = []
    for path in glob.glob(osp.join(work_dir, '*.pth')):
        match = _CKPT_NAME.match(osp.basename(path))
        if match:
            found.append((int(match.group(2)), path))
    return found


def find_resumable_checkpoint(work_dir: str) -> Optional[str]:
    """The checkpoint named in ``last_checkpoint`` if it exists (looked for
    in ``work_dir`` first, so a copied work dir resumes its own copy), else
    the training checkpoint with the largest iteration/epoch number in
    ``work_dir``; None where the pointer says the latest run (a fresh start
    beside an earlier run's checkpoints) has saved nothing yet."""
    pointer = osp.join(work_dir, 'last_checkpoint')
    if osp.isfile(pointer):
        with open(pointer) as f:
            named = f.read().strip()
        if named == NOTHING_SAVED_YET:
            return None
        for path in (osp.join(work_dir, osp.basename(named)), named):
            if named and osp.isfile(path):
                return path
    candidates = training_checkpoints(work_dir)
    return max(candidates)[1] if candidates else None


def load_resume_checkpoint(filename: str, work_dir: str,
                           map_location='cpu') -> dict:
    """A checkpoint to resume from: trusted (a full unpickle) only inside
    the run's own work dir, where the run wrote it; a file handed in from
    elsewhere loads ``weights_only=True`` (gentk writes its checkpoints as
    tensors and plain containers, so its own pass either way)."""
    own = osp.realpath(work_dir)
    if osp.commonpath([osp.realpath(filename), own]) == own:
        return load_trusted_checkpoint(filename, map_location)
    return load_weights(filename, map_location, what='resume checkpoint')


def check_generator_weights(model: torch.nn.Module, checkpoint: dict,
                            revise_keys: list, filename: str) -> None:
    """Raise where ``checkpoint`` lacks a weight that sampling needs (the
    discriminator and loss networks excepted), instead of mmengine's warning
    and a model that generates with initial weights."""
    keys = set(_revised_keys(checkpoint.get('state_dict', checkpoint),
                             revise_keys))
    missing = weights_needed_to_generate(
        k for k in bare_state_dict(model) if k not in keys)
    if missing:
        raise KeyError(
            f'{filename!r} lacks {len(missing)} weights this model needs to '
            f'generate, e.g. {missing[:3]}: was it trained with this config?')


def _revised_keys(state: dict, revise_keys: list) -> dict:
    """Checkpoint key -> tensor, with mmengine's key revisions applied."""
    revised = {}
    for key, value in state.items():
        for pattern, replacement in revise_keys:
            key = re.sub(pattern, replacement, key)
        revised[key] = value
    return revised


def check_training_checkpoint(model: torch.nn.Module, checkpoint: dict,
                              revise_keys: list, filename: str) -> None:
    """Raise unless ``checkpoint`` is a training checkpoint of exactly this
    model. Resuming loads the optimiser's moments by position: moments of
    other shapes fed to a fused Adam corrupt memory rather than fail."""
    if not isinstance(checkpoint, dict) or 'meta' not in checkpoint \
            or 'state_dict' not in checkpoint:
        raise ValueError(
            f'{filename!r} is not a training checkpoint (no meta and '
            'state_dict): --resume continues a run from a checkpoint it '
            'wrote; to start from weights, set load_from instead')
    if 'optimizer' not in checkpoint:
        raise ValueError(
            f'{filename!r} holds no optimiser state (a best_* checkpoint, or '
            'one saved with save_optimizer=False): resuming from it would '
            'restart Adam\'s moments; to start from its weights, set '
            'load_from instead')
    state = _revised_keys(checkpoint['state_dict'], revise_keys)
    own = bare_state_dict(model)
    # Fixed weights a module leaves out of its state dict (VGG19 of the
    # perceptual loss) are still accepted from checkpoints that have them.
    rename = bare_key_namer(model)
    held = {rename(name) for name, _ in
            itertools.chain(model.named_parameters(), model.named_buffers())}
    problems = [f'missing {k}' for k in own if k not in state]
    problems += [f'unexpected {k}' for k in state
                 if k not in own and k not in held]
    problems += [f'{k}: {tuple(state[k].shape)} in the file, '
                 f'{tuple(own[k].shape)} here' for k in own
                 if k in state and state[k].shape != own[k].shape]
    if problems:
        raise ValueError(
            f'{filename!r} was not written by a run of this config: '
            f'{len(problems)} weights differ, e.g. {problems[:3]}')
