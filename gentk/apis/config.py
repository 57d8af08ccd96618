"""Turning a config file and command-line options into a runnable config."""
import difflib
import inspect
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
        check_top_level_keys(cfg, cfg_options, path)
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


# Top-level keys a config may gain from the command line besides its own:
# the runner's arguments and the switches gentk reads.
EXTRA_TOP_LEVEL_KEYS = {'amp', 'launcher', 'runner_type', 'keep_freed_cpu_memory',
                        'sync_bn'}


def check_top_level_keys(cfg: Config, cfg_options: dict, path: str) -> None:
    """Reject an option whose first key is neither in the config nor read by
    the runner: mmengine would add it and silently ignore it (a typo such
    as ``trian_cfg.max_iters=2`` would run the full schedule). Nested keys
    are not checked: a class may take arguments its config leaves out."""
    from mmengine.runner import Runner
    known = (set(cfg.keys()) | EXTRA_TOP_LEVEL_KEYS
             | set(inspect.signature(Runner.__init__).parameters) - {'self'})
    for key in cfg_options:
        top = key.split('.')[0]
        if top in known:
            continue
        close = difflib.get_close_matches(top, sorted(known), n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ''
        raise KeyError(f"--cfg-options {key}: {path!r} has no top-level key "
                       f"'{top}' and the runner reads none{hint}")


def apply_amp(cfg: Config) -> None:
    """``amp = True`` in a config trains with mixed precision on CUDA; on a
    CPU it stays fp32 (bfloat16 is far slower than fp32 on most CPUs)."""
    if not cfg.get('amp', False):
        return
    if not torch.cuda.is_available():
        warnings.warn('amp=True ignored: no CUDA device, training in fp32.')
        return
    # One wrapper (a segmenter) or one per network (a GAN's roles).
    wrappers = ([cfg.optim_wrapper] if 'optimizer' in cfg.optim_wrapper else
                [w for w in cfg.optim_wrapper.values()
                 if isinstance(w, dict) and 'optimizer' in w])
    if not wrappers:
        raise ValueError('amp=True: optim_wrapper has no optimizer to run with '
                         'mixed precision')
    for wrapper in wrappers:
        wrapper['type'] = 'AmpOptimWrapper'
        wrapper.setdefault('loss_scale', 'dynamic')


def resume_options(cfg: Config, resume: Optional[str]) -> None:
    """``--resume`` alone: the latest checkpoint in the work dir, or, when
    there is none, the config's ``load_from`` as without ``--resume``;
    ``--resume PATH``: that checkpoint."""
    if resume is None:
        return
    if resume == 'auto':
        cfg.resume = 'auto'
    else:
        cfg.resume = True
        cfg.load_from = resume


def build_runner(cfg: Config):
    """The config's runner (gentk configs name ``GenRunner``)."""
    import gentk.engine  # noqa: F401  (registers GenRunner)
    from mmengine.runner import Runner

    from gentk.registry import RUNNERS
    return RUNNERS.build(cfg) if 'runner_type' in cfg else Runner.from_cfg(cfg)


def dataset_cfg_of_test(cfg: Config) -> dict:
    """The config's test dataset entry (``{}`` where it has none): what the
    tools read to treat inputs as the model was tested, e.g. whether label
    maps come in Cityscapes train ids (``use_train_ids``)."""
    return (cfg.get('test_dataloader') or {}).get('dataset') or {}
