"""mmengine's Runner with checkpoints that are safe to write and to read.

* Saving is atomic (temp file + ``os.replace``): a kill during a save leaves
  the previous checkpoint intact.
* ``load_from`` and every other file a user hands in load with
  ``weights_only=True``; only ``resume`` (the run's own checkpoints) uses the
  trusted loader, which also reads checkpoints mmengine wrote itself.
* What a checkpoint holds, and the checks on the one to resume:
  ``checkpoint_state.py``.
"""
import os.path as osp
import time
from typing import Optional

import mmengine
import torch
import torch.distributed as dist
from mmengine.device import get_device
from mmengine.dist import all_gather_object, is_main_process
from mmengine.model import is_model_wrapper
from mmengine.runner import BaseLoop, IterBasedTrainLoop, Runner
from mmengine.runner.checkpoint import _load_checkpoint_to_model, weights_to_cpu
from mmengine.utils import apply_to

from gentk.engine.checkpoint_state import (NOTHING_SAVED_YET, bare_state_dict,
                                           check_generator_weights,
                                           check_training_checkpoint,
                                           find_resumable_checkpoint,
                                           load_resume_checkpoint,
                                           message_hub_from_plain,
                                           message_hub_to_plain, to_plain,
                                           training_checkpoints)
from gentk.engine.hooks.broadcast_buffers_hook import BroadcastBuffersHook
from gentk.engine.hooks.kernel_cache_hook import ForgetKernelCachesHook
from gentk.engine.hooks.random_state_hook import (RandomStateHook,
                                                  ranks_draw_own_numbers)
from gentk.engine.hooks.rich_progress_hook import RichProgressHook
from gentk.engine.schedule_check import (resume_changes, scheduler_spans,
                                         unfinished_schedules)
from gentk.registry import RUNNERS
from gentk.utils import atomic_save, atomic_write_text, load_weights
from gentk.utils.cpu_heap import keep_freed_memory


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
        else:
            # load_or_resume serves test and val too: only a training run
            # (its loop built by train() just before) sets them aside.
            if isinstance(self._train_loop, BaseLoop):
                self._set_earlier_checkpoints_aside()
            if self._load_from is not None:
                self.load_checkpoint(self._load_from)
        self._has_loaded = resume_from is not None or self._load_from is not None

    def _set_earlier_checkpoints_aside(self) -> None:
        """A fresh run in a work dir that holds an earlier run's training
        checkpoints: say so, and point ``last_checkpoint`` at nothing until
        this run saves, so that a ``--resume`` after a kill before its
        first save starts afresh instead of continuing the other run."""
        earlier = training_checkpoints(self.work_dir)
        if not earlier or not is_main_process():
            return
        self.logger.warning(
            f'{self.work_dir} holds {len(earlier)} training checkpoints of an '
            f'earlier run (e.g. {osp.basename(max(earlier)[1])}); this run '
            'starts afresh and saves beside them (over those of the same '
            'name), and --resume continues this run, not that one (pass '
            'its checkpoint to --resume to continue it). Use another '
            '--work-dir to keep runs apart.')
        atomic_write_text(NOTHING_SAVED_YET,
                          osp.join(self.work_dir, 'last_checkpoint'))

    def resume(self, filename: str, *args, **kwargs) -> None:
        configured = scheduler_spans(self.param_schedulers)
        self._resuming = True
        try:
            super().resume(filename, *args, **kwargs)
        finally:
            self._resuming = False
        step, last = ((self.iter, self.max_iters)
                      if isinstance(self.train_loop, IterBasedTrainLoop)
                      else (self.epoch, self.max_epochs))
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
        if ranks_draw_own_numbers(self):
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
