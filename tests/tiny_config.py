"""A seconds-long variant of the synthetic pix2pixHD config, written as a
leaf config that inherits the real one, for tests that train in a
subprocess."""
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG = os.path.join(REPO, 'configs/pix2pixhd/synthetic_256x128.py')

PIX2PIXHD_MODEL = '''model = dict(
    generator=dict(base_channels=8, num_downsamples=2, num_blocks=1),
    discriminator=dict(base_channels=8, num_layers=2))'''
# pix2pix: a 6-level U-Net (dropout in its one saturated inner level), and
# its jitter at the tiny size.
PIX2PIX_MODEL = '''model = dict(
    generator=dict(base_channels=8, num_downs=6),
    discriminator=dict(base_channels=8, num_layers=2))
train_pipeline = [
    dict(type='PairedResize', scale=(72, 36)),
    dict(type='PairedRandomCrop', crop_size=(32, 64)),
    dict(type='PairedRandomFlip', prob=0.5),
    dict(type='PackGenInputs'),
]'''
PIX2PIX_CONFIG = os.path.join(REPO, 'configs/pix2pix/synthetic_256x128.py')

TEMPLATE = '''_base_ = {base!r}
{model}
train_dataloader = dict(
    num_workers=0, persistent_workers=False,
    dataset=dict(num_samples=6, height=32, width=64{pipeline}))
train_cfg = dict(max_iters={max_iters}, val_interval=10 ** 6)
param_scheduler = [dict(type='LinearLR', start_factor=1.0, end_factor=0.0,
                        by_epoch=False, begin={half}, end={max_iters})]
val_cfg = None
val_dataloader = None
val_evaluator = None
test_dataloader = dict(dataset=dict(num_samples=3, height=32, width=64))
default_hooks = dict(
    logger=dict(interval=1),
    checkpoint=dict(interval={checkpoint_interval}, max_keep_ckpts=10))
custom_imports = dict(imports=['gentk.datasets', 'gentk.engine',
                               'gentk.evaluation', 'gentk.models', 'run_hooks'])
custom_hooks = [dict(type='SampleGridHook', interval=4, num_samples=2,
                     dataset='train')] + {extra_hooks}
'''


def write_tiny_config(folder, max_iters=8, checkpoint_interval=2,
                      extra_hooks=(), pix2pix=False) -> str:
    """The synthetic pix2pixHD config at toy size (``pix2pix=True``: the
    pix2pix baseline, whose dropout draws random numbers in training)."""
    path = os.path.join(str(folder), 'tiny.py')
    with open(path, 'w') as f:
        f.write(TEMPLATE.format(
            base=PIX2PIX_CONFIG if pix2pix else CONFIG,
            model=PIX2PIX_MODEL if pix2pix else PIX2PIXHD_MODEL,
            pipeline=', pipeline=train_pipeline' if pix2pix else '',
            max_iters=max_iters, half=max_iters // 2,
            checkpoint_interval=checkpoint_interval,
            extra_hooks=list(extra_hooks)))
    return path


def run_tool(args, timeout=300, check=True, command=None, env=None):
    """Run ``python ARGS`` (or ``command``) from the repo root with the tests'
    hooks importable and one thread per process (deterministic, and no
    oversubscription of the cores)."""
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONUNBUFFERED='1',
               PYTHON=sys.executable, **(env or {}),
               PYTHONPATH=os.pathsep.join([os.path.join(REPO, 'tests'),
                                           os.environ.get('PYTHONPATH', '')]))
    proc = subprocess.run(command or [sys.executable, *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f'{args} exited {proc.returncode}\n'
                             f'stdout:\n{proc.stdout[-4000:]}\n'
                             f'stderr:\n{proc.stderr[-4000:]}')
    return proc
