"""The main job on the embedded data: train a CPU-sized pix2pixHD on the
synthetic streets, evaluate it, and show where everything went.

    python tools/demo.py [--iters 1500] [--work-dir work_dirs/demo]
"""
if __name__ == '__main__':
    # Before torch loads: glibc reads its tunables only when a process starts.
    from gentk.huge_pages import restart_with_huge_pages
    restart_with_huge_pages()

import argparse
import json
import os.path as osp
import sys
import time

from rich.console import Console
from rich.table import Table

from gentk.apis.cli import run_tool
from gentk.apis.config import build_runner, load_config

CONFIG = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))),
                  'configs/pix2pixhd/synthetic_256x128.py')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n\n')[0].replace('\n', ' '))
    parser.add_argument('--iters', type=int, default=1500,
                        help='training iterations (the learning rate decays '
                        'linearly over the second half)')
    parser.add_argument('--work-dir', default='work_dirs/demo')
    parser.add_argument('--val-samples', type=int, default=50)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    options = {
        'train_cfg.max_iters': args.iters,
        'train_cfg.val_interval': args.iters,
        'param_scheduler': [dict(type='LinearLR', start_factor=1.0,
                                 end_factor=0.0, by_epoch=False,
                                 begin=args.iters // 2, end=args.iters)],
        'default_hooks.checkpoint.interval': max(args.iters // 3, 1),
        'custom_hooks.1.interval': max(args.iters // 6, 1),
        'val_dataloader.dataset.num_samples': args.val_samples,
    }
    cfg = load_config(CONFIG, options, args.work_dir)
    runner = build_runner(cfg)
    start = time.time()
    runner.train()
    seconds = time.time() - start
    # The loop validated the whole val split after the last iteration;
    # mmengine's RuntimeInfoHook keeps those metrics as 'val/...' scalars.
    # (val/time and val/data_time are the loop's timings, not results)
    metrics = {key[len('val/'):]: buf.current()
               for key, buf in runner.message_hub.log_scalars.items()
               if key.startswith('val/')
               and key not in ('val/time', 'val/data_time')}
    last = osp.join(cfg.work_dir, f'iter_{args.iters}.pth')
    grid_hook = next(h for h in runner.hooks if type(h).__name__ == 'SampleGridHook')
    results = {
        'iterations': args.iters,
        'train_seconds': round(seconds, 1),
        'seconds_per_iter': round(seconds / args.iters, 3),
        **{k: round(float(v), 3) for k, v in metrics.items()},
    }
    with open(osp.join(cfg.work_dir, 'demo_results.json'), 'w') as f:
        json.dump(results, f, indent=2)

    # A pipe or log file gets whole paths, not 80 columns.
    console = Console() if sys.stdout.isatty() else Console(width=120)
    table = Table(title='pix2pixHD on synthetic streets (256x128, CPU)')
    table.add_column('result')
    table.add_column('value', justify='right')
    for key, value in results.items():
        table.add_row(key, str(value))
    console.print(table)
    paths = Table(title='written')
    paths.add_column('what')
    paths.add_column('path')
    paths.add_row('checkpoint', last)
    paths.add_row('sample grids (label | generated | real)',
                  osp.join(cfg.work_dir, 'samples'))
    paths.add_row('final grid', grid_hook.written[-1] if grid_hook.written else '-')
    paths.add_row('results', osp.join(cfg.work_dir, 'demo_results.json'))
    console.print(paths)
    return results


if __name__ == '__main__':
    run_tool(main)
