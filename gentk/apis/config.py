"""Turning a config file and command-line options into a runnable config."""
import os.path as osp
import warnings
from typing import Optional

import torch
from mmengine.config import Config, DictAction  # noqa: F401  (re-exported)

from gentk.plugins import load_plugins


def load_config(path: str, cfg_options: Optional[dict] = None,
                work_dir: Optional[str] = None, launcher: str = 'none') -> Config:
    """Read ``path``, apply ``--cfg-options``, set the work dir and launcher,
    pick the distributed backend the machine supports, apply ``amp``."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'config file not found: {path!r}')
    load_plugins()
    cfg = Config.fromfile(path)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    cfg.launcher = launcher
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(path))[0])
    if not torch.cuda.is_available():
        # CPU processes: gloo, and DDP without device ids.
        cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})['backend'] = 'gloo'
        if cfg.get('model_wrapper_cfg') is not None:
            cfg.model_wrapper_cfg['device_ids'] = None
    apply_amp(cfg)
    return cfg


def apply_amp(cfg: Config) -> None:
    """``amp = True`` in a config trains with mixed precision on CUDA; on a
    CPU it stays fp32 (bfloat16 is far slower than fp32 on most CPUs)."""
    if not cfg.get('amp', False):
        return
    if not torch.cuda.is_available():
        warnings.warn('amp=True ignored: no CUDA device, training in fp32.')
        return
    for name, wrapper in cfg.optim_wrapper.items():
        if isinstance(wrapper, dict) and 'optimizer' in wrapper:
            wrapper['type'] = 'AmpOptimWrapper'
            wrapper.setdefault('loss_scale', 'dynamic')


def resume_options(cfg: Config, resume: Optional[str]) -> None:
    """``--resume`` alone: the latest checkpoint in the work dir;
    ``--resume PATH``: that checkpoint."""
    if resume is None:
        return
    cfg.resume = True
    cfg.load_from = None if resume == 'auto' else resume


def build_runner(cfg: Config):
    """The config's runner (gentk configs name ``GenRunner``)."""
    import gentk.engine  # noqa: F401  (registers GenRunner)
    from mmengine.runner import Runner

    from gentk.registry import RUNNERS
    return RUNNERS.build(cfg) if 'runner_type' in cfg else Runner.from_cfg(cfg)
