"""Evaluate a trained model on the config's test split (the whole split).

    python tools/test.py configs/pix2pixhd/synthetic_256x128.py work_dirs/.../iter_2000.pth
"""
import argparse
import json
import os.path as osp

from mmengine.config import DictAction
from rich.console import Console
from rich.table import Table

from gentk.apis.config import build_runner, load_config


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Test a gentk model.')
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help='checkpoint file (loaded weights_only)')
    parser.add_argument('--work-dir', help='where logs and results go')
    parser.add_argument('--out', help='JSON file for the metrics '
                        '(default: WORK_DIR/test_metrics.json)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        metavar='KEY=VALUE', help='override config entries')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none')
    parser.add_argument('--local-rank', '--local_rank', type=int, default=0,
                        help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def print_metrics(metrics: dict, title: str) -> None:
    table = Table(title=title)
    table.add_column('metric')
    table.add_column('value', justify='right')
    for key, value in metrics.items():
        table.add_row(key, f'{value:.4f}' if isinstance(value, float) else str(value))
    Console().print(table)


def main(argv=None):
    args = parse_args(argv)
    cfg = load_config(args.config, args.cfg_options, args.work_dir, args.launcher)
    cfg.load_from = args.checkpoint
    cfg.resume = False
    runner = build_runner(cfg)
    metrics = runner.test()
    out = args.out or osp.join(cfg.work_dir, 'test_metrics.json')
    if runner.rank == 0:
        print_metrics(metrics, f'{osp.basename(args.config)} — {args.checkpoint}')
        with open(out, 'w') as f:
            json.dump(metrics, f, indent=2)
        print(f'metrics written to {out}')
    return metrics


if __name__ == '__main__':
    main()
