"""Evaluate a trained generator on its config's test split (the whole split).

    python tools/test.py CONFIG CHECKPOINT
    python tools/test.py CONFIG CHECKPOINT --segmentor SEG_CONFIG SEG_CHECKPOINT

With ``--segmentor`` the generated photos are segmented by that model and
scored against the input labels (mIoU and pixel accuracy over the 19
Cityscapes train ids), with an "oracle" row (real photos) and a "floor" row
(generated photos against shuffled labels), under the printed protocol.
"""
if __name__ == '__main__':
    # Before torch loads: glibc reads its tunables only when a process starts.
    from gentk.huge_pages import restart_with_huge_pages
    restart_with_huge_pages()

import argparse
import json
import math
import os.path as osp

from mmengine.config import DictAction
from rich.console import Console
from rich.table import Table

from gentk.apis.cli import run_tool
from gentk.apis.config import build_runner, dataset_cfg_of_test, load_config
from gentk.utils import atomic_write_text

ROWS = ('generated', 'oracle', 'floor')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Test a gentk generator.')
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help='checkpoint file (loaded weights_only)')
    parser.add_argument('--segmentor', nargs=2, metavar=('CONFIG', 'CHECKPOINT'),
                        help='score generated photos with this segmenter')
    parser.add_argument('--segmentor-input-size', nargs=2, type=int,
                        metavar=('H', 'W'), help='resize photos to this size '
                        'before segmenting (default: the label resolution)')
    parser.add_argument('--segmentor-options', nargs='+', action=DictAction,
                        metavar='KEY=VALUE', help='settings of the '
                        'GeneratedSegmentationScores metric, e.g. '
                        'num_classes=7 label_ids_to_train_ids=False for a '
                        'segmenter of other classes than Cityscapes\' 19')
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


def add_segmentation_scores(cfg, segmentor, input_size, options=None) -> None:
    """Append the segmentation metric to the config's test evaluators. Label
    maps a dataset already gives in train ids (``use_train_ids``) are not
    mapped again; ``options`` (``--segmentor-options``) come last."""
    evaluators = cfg.get('test_evaluator') or []
    if isinstance(evaluators, dict):
        evaluators = [evaluators]
    metric = dict(type='GeneratedSegmentationScores',
                  segmentor_config=segmentor[0],
                  segmentor_weights=segmentor[1],
                  segmentor_input_size=input_size)
    if dataset_cfg_of_test(cfg).get('use_train_ids'):
        metric['label_ids_to_train_ids'] = False
    metric.update(options or {})
    evaluators.append(metric)
    cfg.test_evaluator = evaluators


def segmentation_table(metrics: dict, title: str) -> Table:
    table = Table(title=title)
    for column in ('', 'mIoU', 'pixel acc'):
        table.add_column(column, justify='right' if column else 'left')
    for row in ROWS:
        if f'segscore/{row}/mIoU' in metrics:
            table.add_row(row, f"{100 * metrics[f'segscore/{row}/mIoU']:.2f}",
                          f"{100 * metrics[f'segscore/{row}/aAcc']:.2f}")
    return table


def metric_table(metrics: dict, title: str) -> Table:
    table = Table(title=title)
    table.add_column('metric')
    table.add_column('value', justify='right')
    for key, value in metrics.items():
        table.add_row(key, f'{value:.4f}' if isinstance(value, float) else str(value))
    return table


def nan_to_none(value):
    """``value`` with every float NaN or infinity (in dicts and lists) as
    None: JSON has neither."""
    if isinstance(value, dict):
        return {k: nan_to_none(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [nan_to_none(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def main(argv=None):
    args = parse_args(argv)
    if not osp.isfile(args.checkpoint):
        raise FileNotFoundError(f'checkpoint not found: {args.checkpoint!r} (the '
                                'CHECKPOINT argument)')
    cfg = load_config(args.config, args.cfg_options, args.work_dir, args.launcher)
    cfg.load_from = args.checkpoint
    cfg.resume = False
    # Scores of a generator that kept some initial weights mean nothing.
    cfg.require_generator_weights = True
    if args.segmentor:
        add_segmentation_scores(cfg, args.segmentor, args.segmentor_input_size,
                                args.segmentor_options)
    runner = build_runner(cfg)
    metrics = runner.test()
    if runner.rank != 0:
        return metrics
    console = Console()
    title = f'{osp.basename(args.config)} — {osp.basename(args.checkpoint)}'
    other = {k: v for k, v in metrics.items() if not k.startswith('segscore/')}
    result = {'config': args.config, 'checkpoint': args.checkpoint,
              'metrics': metrics}
    if args.segmentor:
        metric = next(m for m in runner.test_evaluator.metrics
                      if type(m).__name__ == 'GeneratedSegmentationScores')
        console.print(segmentation_table(metrics, title))
        protocol = metric.protocol()
        console.print('protocol: ' + '; '.join(
            f'{k}: {v}' for k, v in protocol.items()))
        result['protocol'] = protocol
    if other:
        console.print(metric_table(other, title))
    out = args.out or osp.join(cfg.work_dir, 'test_metrics.json')
    # Scores that do not exist (the IoU of a class absent from labels and
    # predictions) are NaN: null in JSON, which has no NaN (or inf).
    atomic_write_text(json.dumps(nan_to_none(result), indent=2,
                                 allow_nan=False), out)
    print(f'metrics written to {out}')
    return metrics


if __name__ == '__main__':
    run_tool(main)
