"""Train a model from a config.

    python tools/train.py configs/pix2pixhd/synthetic_256x128.py
    python tools/train.py CONFIG --resume              # latest in the work dir
    python tools/train.py CONFIG --resume PATH.pth     # that checkpoint
    python tools/train.py CONFIG --cfg-options train_cfg.max_iters=100
"""
if __name__ == '__main__':
    # Before torch loads: glibc reads its tunables only when a process starts.
    from gentk.huge_pages import restart_with_huge_pages
    restart_with_huge_pages()

import argparse

from mmengine.config import DictAction

from gentk.apis.cli import run_tool
from gentk.apis.config import build_runner, load_config, resume_options


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Train a gentk model.')
    parser.add_argument('config', help='config file')
    parser.add_argument('--work-dir', help='where logs, checkpoints, samples go')
    parser.add_argument(
        '--resume', nargs='?', const='auto', default=None, metavar='CHECKPOINT',
        help='resume the latest checkpoint in the work dir, or CHECKPOINT')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction, metavar='KEY=VALUE',
        help='override config entries, e.g. train_cfg.max_iters=100')
    parser.add_argument(
        '--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none', help='job launcher (tools/dist_train.sh uses pytorch)')
    parser.add_argument('--local-rank', '--local_rank', type=int, default=0,
                        help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    cfg = load_config(args.config, args.cfg_options, args.work_dir, args.launcher)
    resume_options(cfg, args.resume)
    runner = build_runner(cfg)
    runner.train()
    return runner


if __name__ == '__main__':
    run_tool(main)
