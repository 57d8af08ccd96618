"""mmengine's Runner with checkpoints that are safe to write and to read.

* Saving is atomic (temp file + ``os.replace``): a kill during a save leaves
  the previous checkpoint intact.
* The message hub is stored as plain data, so a gentk checkpoint opens with
  ``weights_only=True`` too (e.g. as ``load_from`` or as the 1024x512
  generator that initialises the 2048x1024 stage).
* ``load_from`` and every other file a user hands in load with
  ``weights_only=True``; only ``resume`` (the run's own checkpoints) uses the
  trusted loader, which also reads checkpoints mmengine wrote itself.
* Auto-resume falls back to the newest checkpoint file when
  ``last_checkpoint`` is missing, empty or stale.
"""
import glob
import itertools
import os.path as osp
import re
import time
from collections import OrderedDict
from typing import Any, Optional

import mmengine
import numpy as np
import torch
import torch.distributed as dist
from mmengine.device import get_device
from mmengine.dist import all_gather_object, get_world_size, is_main_process
from mmengine.logging import HistoryBuffer
from mmengine.model import is_model_wrapper
from mmengine.runner import IterBasedTrainLoop, Runner
from mmengine.runner.checkpoint import _load_checkpoint_to_model, weights_to_cpu
from mmengine.utils import apply_to

from gentk.engine.hooks.broadcast_buffers_hook import BroadcastBuffersHook
from gentk.engine.hooks.kernel_cache_hook import ForgetKernelCachesHook
from gentk.engine.hooks.random_state_hook import RandomStateHook
from gentk.engine.hooks.rich_progress_hook import RichProgressHook
from gentk.engine.schedule_check import (resume_changes, scheduler_spans,
                                         unfinished_schedules)
from gentk.registry import RUNNERS
from gentk.utils import (atomic_save, load_trusted_checkpoint, load_weights,
                         weights_needed_to_generate)
from gentk.utils.cpu_heap import keep_freed_memory

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


def find_resumable_checkpoint(work_dir: str) -> Optional[str]:
    """The checkpoint named in ``last_checkpoint`` if it exists (looked for
    in ``work_dir`` first, so a copied work dir resumes its own copy), else
    the training checkpoint with the largest iteration/epoch number in
    ``work_dir``."""
    pointer = osp.join(work_dir, 'last_checkpoint')
    if osp.isfile(pointer):
        with open(pointer) as f:
            named = f.read().strip()
        for path in (osp.join(work_dir, osp.basename(named)), named):
            if named and osp.isfile(path):
                return path
    candidates = []
    for path in glob.glob(osp.join(work_dir, '*.pth')):
        match = _CKPT_NAME.match(osp.basename(path))
        if match:
            candidates.append((int(match.group(2)), path))
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


@RUNNERS.register_module()
class GenRunner(Runner):
    """The runner every gentk config uses (``runner_type='GenRunner'``)."""

    _resuming = False

    @classmethod
    def from_cfg(cls, cfg) -> 'GenRunner':
        # Before the model exists: the setting applies to every later
        # allocation (gentk/utils/cpu_heap.py says why).
        if cfg.get('keep_freed_cpu_memory', False):
            keep_freed_memory()
        return super().from_cfg(cfg)

    def register_hooks(self, default_hooks=None, custom_hooks=None) -> None:
        super().register_hooks(default_hooks, custom_hooks)
        for hook_type in (RandomStateHook, BroadcastBuffersHook,
                          ForgetKernelCachesHook):
            if not any(isinstance(h, hook_type) for h in self.hooks):
                self.register_hook(hook_type())

    def train(self):
        try:
            return super().train()
        finally:  # also on an error: no bar drawn over the traceback
            for hook in self.hooks:
                if isinstance(hook, RichProgressHook):
                    hook.stop()

    def wrap_model(self, model_wrapper_cfg, model):
        if self.distributed and self.cfg.get('sync_bn') is not None \
                and get_device() == 'cpu':
            # torch's SyncBatchNorm runs on GPUs only: on CPU each process
            # normalises its own batch, and BroadcastBuffersHook gives every
            # rank rank 0's running statistics.
            self.logger.warning(
                f'sync_bn={self.cfg.sync_bn!r} ignored: SyncBatchNorm needs '
                'a GPU; each CPU process normalises its own batch')
            self.cfg.sync_bn = None
        return super().wrap_model(model_wrapper_cfg, model)

    def build_param_scheduler(self, scheduler):
        # Called by train(), once the loop (and so the run's length) exists;
        # checked on the configs, in their own units.
        for message in unfinished_schedules(scheduler, self.max_iters,
                                            self.max_epochs):
            self.logger.warning(message)
        return super().build_param_scheduler(scheduler)

    def setup_env(self, env_cfg: dict) -> None:
        # mmengine's pytorch-launcher setup calls torch.cuda.set_device even
        # without CUDA; on a CPU machine start the gloo group here instead.
        if (self.distributed and self.launcher == 'pytorch'
                and not torch.cuda.is_available() and not dist.is_initialized()):
            dist.init_process_group(backend='gloo')
        super().setup_env(env_cfg)

    def load_or_resume(self) -> None:
        if self._has_loaded:
            return
        resume_from = None
        # resume='auto' (--resume alone) keeps the config's load_from for a
        # work dir that holds no checkpoint yet.
        if self._resume == 'auto' or (self._resume and self._load_from is None):
            resume_from = find_resumable_checkpoint(self.work_dir)
            if resume_from is None:
                start = (f'initialising from load_from {self._load_from}'
                         if self._load_from else 'starting from scratch')
                self.logger.info(f'No checkpoint to resume in {self.work_dir}; '
                                 f'{start}.')
                # A fresh start, as without --resume: hooks that read
                # `_resume` (mmengine's EMAHook) must not treat it as one.
                self._resume = False
        elif self._resume:
            resume_from = self._load_from
        if resume_from is not None:
            self.logger.info(f'Resuming from {resume_from}')
            self.resume(resume_from)
        elif self._load_from is not None:
            self.load_checkpoint(self._load_from)
        self._has_loaded = resume_from is not None or self._load_from is not None

    def resume(self, filename: str, *args, **kwargs) -> None:
        configured = scheduler_spans(self.param_schedulers)
        self._resuming = True
        try:
            super().resume(filename, *args, **kwargs)
        finally:
            self._resuming = False
        by_epoch = self.max_epochs is not None and self.max_epochs > 0 and \
            not isinstance(self.train_loop, IterBasedTrainLoop)
        step, last = ((self.epoch, self.max_epochs) if by_epoch
                      else (self.iter, self.max_iters))
        for message in resume_changes(configured,
                                      scheduler_spans(self.param_schedulers),
                                      step, last):
            self.logger.warning(message)

    def load_checkpoint(self, filename: str, map_location='cpu',
                        strict: bool = False,
                        revise_keys: list = [(r'^module.', '')]):
        if self._resuming:
            checkpoint = load_resume_checkpoint(filename, self.work_dir,
                                                map_location)
            if 'message_hub' in checkpoint:
                checkpoint['message_hub'] = message_hub_from_plain(
                    checkpoint['message_hub'])
            self._match_dataset_meta(checkpoint)
        else:
            checkpoint = load_weights(filename, map_location, what='load_from')
        self.call_hook('after_load_checkpoint', checkpoint=checkpoint)
        model = self.model.module if is_model_wrapper(self.model) else self.model
        # Checkpoints hold bare names (no '.module' of wrapped submodules),
        # and mmengine's loader looks through the wrappers: no renaming.
        if self._resuming:
            check_training_checkpoint(model, checkpoint, revise_keys, filename)
        elif self.cfg.get('require_generator_weights'):
            check_generator_weights(model, checkpoint, revise_keys, filename)
        checkpoint = _load_checkpoint_to_model(
            model, checkpoint, strict, revise_keys=revise_keys)
        self._has_loaded = True
        self.logger.info(f'Loaded checkpoint {filename}')
        return checkpoint

    def _match_dataset_meta(self, checkpoint: dict) -> None:
        """Checkpoints keep the dataset's metainfo as plain containers, and
        mmengine's resume compares pickles: where the contents agree, hand
        it the current metainfo so that it does not warn of a difference."""
        meta = checkpoint.get('meta') or {}
        dataset = getattr(self.train_dataloader, 'dataset', None)
        current = getattr(dataset, 'metainfo', None)
        if current is None or 'dataset_meta' not in meta:
            return
        try:
            same = bool(to_plain(current) == meta['dataset_meta'])
        except (RuntimeError, ValueError):  # tensors or arrays inside
            same = False
        if same:
            meta['dataset_meta'] = current

    def save_checkpoint(self, out_dir: str, filename: str,
                        file_client_args: Optional[dict] = None,
                        save_optimizer: bool = True,
                        save_param_scheduler: bool = True,
                        meta: Optional[dict] = None,
                        by_epoch: bool = True,
                        backend_args: Optional[dict] = None) -> None:
        """Every rank calls this, as mmengine's hooks do; rank 0 writes.
        Where each rank draws its own random numbers (``diff_rank_seed``),
        rank 0 first collects every rank's generator states, so that each
        resumes with its own."""
        if file_client_args or backend_args:
            raise ValueError('GenRunner writes checkpoints to local disk only '
                             '(atomically); remove file_client_args/backend_args.')
        rank_states = None
        if get_world_size() > 1 and \
                (self._randomness_cfg or {}).get('diff_rank_seed'):
            hook = next(h for h in self.hooks if isinstance(h, RandomStateHook))
            rank_states = all_gather_object(hook.states_to_save())
        if not is_main_process():
            return
        meta = dict(meta or {})
        # Same counters as mmengine: after_train_epoch runs before the
        # epoch counter increments, after_train_iter before the iter one.
        meta.setdefault('epoch', self.epoch + 1 if by_epoch else self.epoch)
        meta.setdefault('iter', self.iter if by_epoch else self.iter + 1)
        meta.update(
            cfg=self.cfg.pretty_text, seed=self.seed,
            experiment_name=self.experiment_name,
            time=time.strftime('%Y%m%d_%H%M%S', time.localtime()),
            mmengine_version=mmengine.__version__)
        dataset = getattr(self.train_dataloader, 'dataset', None)
        if hasattr(dataset, 'metainfo'):
            meta['dataset_meta'] = to_plain(dataset.metainfo)
        model = self.model.module if is_model_wrapper(self.model) else self.model
        checkpoint = {
            'meta': meta,
            'state_dict': weights_to_cpu(bare_state_dict(model)),
            'message_hub': message_hub_to_plain(self.message_hub.state_dict()),
        }
        if save_optimizer:
            checkpoint['optimizer'] = apply_to(
                self.optim_wrapper.state_dict(), lambda x: hasattr(x, 'cpu'),
                lambda x: x.cpu())
        if save_param_scheduler and self.param_schedulers:
            schedulers = self.param_schedulers
            checkpoint['param_schedulers'] = (
                {name: [s.state_dict() for s in group]
                 for name, group in schedulers.items()}
                if isinstance(schedulers, dict)
                else [s.state_dict() for s in schedulers])
        if rank_states is not None:
            checkpoint['rank_random_states'] = rank_states
        self.call_hook('before_save_checkpoint', checkpoint=checkpoint)
        atomic_save(checkpoint, osp.join(out_dir, filename))
