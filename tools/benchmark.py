"""Speed and memory targets of gentk on this machine: pix2pixHD training
and inference (``gentk.benchmark.pix2pixhd``) and the metrics' throughput
(``gentk.benchmark.metrics``); what each figure means is in those modules.

Usage::

    python tools/benchmark.py                      # 256x128 and 512x256
    python tools/benchmark.py --quick              # 256x128, few repeats
    python tools/benchmark.py --resolutions 256x128 --repeats 10 \\
        --threads 2 --out work_dirs/benchmark.json
    python tools/benchmark.py --profile 25         # + torch.profiler table
    python tools/benchmark.py --skip pix2pixhd --fid-images 10000  # metrics

Resolutions are ``WIDTHxHEIGHT`` (pix2pixHD's 1024x512 is 1024 wide).
"""
if __name__ == '__main__':
    # Before torch loads: glibc reads its tunables only when a process starts.
    from gentk.huge_pages import restart_with_huge_pages
    restart_with_huge_pages()

import argparse
import json
import os
import sys
from typing import List, Optional, Tuple

import torch

from gentk.benchmark.metrics import run_metric_benchmark
from gentk.benchmark.pix2pixhd import (ADAM_IMPLEMENTATIONS, TARGETS,
                                       run_pix2pixhd_benchmark)

GIB = 1024**3


def parse_resolution(text: str) -> Tuple[int, int]:
    """``'256x128'`` -> ``(width, height)``."""
    try:
        width, height = (int(v) for v in text.lower().split('x'))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f'resolution must look like 256x128 (WIDTHxHEIGHT), got {text!r}')
    if width < 1 or height < 1:
        raise argparse.ArgumentTypeError(f'resolution must be positive: {text}')
    return width, height


def render_pix2pixhd(report: dict, console) -> None:
    """The pix2pixHD report as a rich table."""
    from rich.table import Table
    machine, peak = report['machine'], report['conv_peak']
    layouts = ', '.join(f'{k} {v / 1e9:.0f}'
                        for k, v in peak['layouts'].items())
    table = Table(title=(
        f'pix2pixHD benchmark - torch {machine["torch"]}, '
        f'{machine["threads"]} threads, fp32 3x3 conv peak at the start '
        f'{peak["flops_per_s"] / 1e9:.0f} GFLOP/s ({layouts}); malloc '
        + ('keeps freed memory' if report['settings']['keep_freed_memory']
           else 'defaults')
        + (', huge pages' if report['settings'].get('huge_pages') else '')))
    for column in ('resolution', 'case', 'best s', 'median s', 'CPU s',
                   'GFLOP', 'GFLOP/s', 'conv peak', '% conv peak',
                   '(CPU time)', 'target',
                   'executed GFLOP',
                   'peak RSS GiB'):
        table.add_column(column, justify='left' if column in (
            'resolution', 'case') else 'right')
    for case in report['cases']:
        unit = 's/iter' if case['mode'] == 'train' else 's/image'
        per_item = case['batch_size'] if case['mode'] == 'infer' else 1
        ok = case['meets_target']
        fraction = f'{100 * case["conv_peak_fraction"]:.1f}%'
        table.add_row(
            f'{case["width"]}x{case["height"]}', f'{case["mode"]} ({unit})',
            f'{case["seconds"]:.3f}', f'{case["seconds_median"]:.3f}',
            f'{min(case["cpu_times"]) / per_item:.3f}',
            f'{case["flops"] / 1e9:.1f}', f'{case["flops_per_s"] / 1e9:.0f}',
            f'{case["conv_peak"]["flops_per_s"] / 1e9:.0f}',
            f'[{"green" if ok else "red"}]{fraction}[/]',
            f'{100 * case.get("conv_peak_fraction_cpu_time", 0):.1f}%',
            f'>= {100 * case["target"]:.0f}%',
            f'{case["executed_flops"] / 1e9:.1f}',
            f'{case["peak_rss_bytes"] / GIB:.2f}')
    console.print(table)
    console.print('conv peak: GFLOP/s of the 3x3 convolution measured '
                  'between the case\'s timed calls, in its process (the '
                  'clock drifts over a run), the denominator of % conv peak. '
                  'CPU s: process CPU time of the best call (all threads; '
                  'with --threads 1 it is immune to time-slicing by other '
                  'processes), and the conv-peak ratio in CPU time. GFLOP: '
                  'the networks\' (every convolution a direct one); executed '
                  'GFLOP: what ran (Winograd convolutions do fewer; the one-hot '
                  'stem\'s table lookup is additions, not counted).')
    console.print(f'load average before {machine["load_before"]}, after '
                  f'{machine["load_after"]}; reference: {report["reference"]}')
    for case in report['cases']:
        if case.get('profile'):
            console.print(f'[bold]{case["mode"]} {case["width"]}x'
                          f'{case["height"]}[/]')
            console.print(case['profile'], markup=False, highlight=False)


def render_metrics(report: dict, console) -> None:
    """The metric throughput report as a rich table."""
    from rich.table import Table
    table = Table(title='metric throughput')
    for column in ('measure', 'images/s', 'detail'):
        table.add_column(column, justify='right' if column == 'images/s'
                         else 'left')
    inc = report['inception']
    ratio = inc['metric_over_plain']
    table.add_row('Inception features (FID metric)',
                  f'{inc["metric_images_per_s"]:.1f}',
                  f'[{"green" if ratio >= 1 else "red"}]{ratio:.2f}x plain '
                  f'PyTorch[/], {inc["size"][1]}x{inc["size"][0]} input, '
                  f'batch {inc["batch_size"]}')
    table.add_row('Inception features (plain PyTorch)',
                  f'{inc["plain_images_per_s"]:.1f}',
                  'module layout (batch norms kept), no_grad, channels-last, '
                  'batched resize')
    if 'fid' in report:
        fid = report['fid']
        value = (f'FID {fid["fid"]:.1f} vs {fid["real_images"]} real'
                 if fid['fid'] is not None else 'random Inception weights')
        table.add_row(f'FID end to end, {fid["num_images"]} images',
                      f'{fid["images_per_s"]:.1f}',
                      f'{fid["seconds"]:.0f} s (render, generate, Inception, '
                      f'statistics; {value}); G: {fid["checkpoint"]}')
    for name, seg in report['segmentors'].items():
        table.add_row(f'segment: {name}', f'{seg["images_per_s"]:.1f}',
                      f'{seg["size"][1]}x{seg["size"][0]}, inference scale '
                      f'{seg["inference_scale"]:g}, '
                      f'{seg["params"] / 1e6:.1f}M params')
    console.print(table)


def main(argv: Optional[List[str]] = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--skip', nargs='+', default=[],
                        choices=['pix2pixhd', 'metrics'])
    parser.add_argument('--resolutions', nargs='+', type=parse_resolution,
                        default=None, metavar='WxH',
                        help='default: 256x128 512x256 (--quick: 256x128)')
    parser.add_argument('--modes', nargs='+', choices=sorted(TARGETS),
                        default=['train', 'infer'])
    parser.add_argument('--repeats', type=int, default=None,
                        help='timed calls per case (default 5, --quick 2)')
    parser.add_argument('--warmup', type=int, default=2,
                        help='untimed calls per case before timing')
    parser.add_argument('--threads', type=int, default=0,
                        help='torch threads (default: torch default, '
                             'i.e. all cores)')
    parser.add_argument('--batch-size', type=int, default=1)
    parser.add_argument('--quick', action='store_true',
                        help='256x128 only, 2 repeats, 1 warm-up, FID over '
                             '200 images')
    parser.add_argument('--no-isolate', action='store_true',
                        help='run every case in this process (peak RSS is '
                             "then the whole run's)")
    parser.add_argument('--adam', choices=sorted(ADAM_IMPLEMENTATIONS),
                        default='config',
                        help="Adam implementation (default: the schedule "
                             "config's)")
    parser.add_argument('--malloc-default', action='store_true',
                        help="leave glibc malloc's defaults (training runs "
                             'keep freed memory in the heap: '
                             'gentk/utils/cpu_heap.py)')
    parser.add_argument('--profile', type=int, default=0, metavar='ROWS',
                        help='also print a torch.profiler table of one call')
    parser.add_argument('--fid-images', type=int, default=None,
                        help='generated images for the end-to-end FID '
                             '(default 10000, --quick 200; 0 skips it)')
    parser.add_argument('--fid-checkpoint', default=None,
                        help='generator checkpoint for the end-to-end FID '
                             '(default: random weights, same cost)')
    parser.add_argument('--inception-weights', default=None,
                        help='FID Inception weights (default: random, same '
                             'cost)')
    parser.add_argument('--out', default='work_dirs/benchmark.json',
                        help='JSON report path ("" to skip)')
    args = parser.parse_args(argv)

    from rich.console import Console
    # a pipe or file gets the whole table, not 80 columns
    console = Console() if sys.stdout.isatty() else Console(width=160)
    if args.threads:
        torch.set_num_threads(args.threads)
    report = {}
    if 'pix2pixhd' not in args.skip:
        resolutions = args.resolutions or (
            [(256, 128)] if args.quick else [(256, 128), (512, 256)])
        report['pix2pixhd'] = run_pix2pixhd_benchmark(
            resolutions, args.modes, repeats=args.repeats or (
                2 if args.quick else 5),
            warmup=1 if args.quick else args.warmup, threads=args.threads,
            batch_size=args.batch_size, isolate=not args.no_isolate,
            peak_repeats=4 if args.quick else 10, profile_rows=args.profile,
            adam=args.adam,
            keep_freed_memory=False if args.malloc_default else None)
        render_pix2pixhd(report['pix2pixhd'], console)
    if 'metrics' not in args.skip:
        fid_images = args.fid_images if args.fid_images is not None else (
            200 if args.quick else 10000)
        report['metrics'] = run_metric_benchmark(
            fid_images, repeats=2 if args.quick else 3,
            inception_weights=args.inception_weights,
            fid_checkpoint=args.fid_checkpoint)
        render_metrics(report['metrics'], console)
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as f:
            json.dump(report, f, indent=2)
        console.print(f'wrote {args.out}')
    return report


if __name__ == '__main__':
    main()
