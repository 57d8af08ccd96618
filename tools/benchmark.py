"""Speed and memory of pix2pixHD training and inference on this machine.

For the paper-sized networks (``GlobalGenerator(36, base_channels=64,
num_downsamples=4, num_blocks=9)``, ``MultiScaleDiscriminator(39,
num_scales=2)``, LSGAN + feature matching, no VGG, batch 1, Adam through
``GANOptimWrapperConstructor``) at reduced resolutions, report per case:

* **train**: seconds per ``Pix2PixHD.train_step`` (data preprocessing, G
  forward, D step, G step, both Adam updates), best of ``--repeats`` after
  ``--warmup`` steps (the median is reported too);
* **infer**: seconds per generated image (``model.sample`` under no_grad);
* **GFLOP**: floating-point operations of one step / one sample, counted by
  ``torch.utils.flop_counter.FlopCounterMode`` while it runs: convolutions
  (forward, and backward only for the gradients autograd actually asks
  for: ``output_mask``), transposed convolutions and matrix products
  (including the oneDNN inner products ``gentk.models.layers.Conv2d`` runs
  small-map convolutions as: the same multiply-accumulates), at 2 FLOPs
  per multiply-accumulate. Element-wise work (norms, activations,
  padding, losses, Adam) is not counted: it is pure overhead here;
* **% conv peak**: (GFLOP / seconds) as a fraction of this machine's fp32
  3x3-convolution throughput, measured by this script (a
  ``256 -> 256`` 3x3 convolution forward on a 128x128 map, contiguous and
  channels-last, best of both, best of ``--repeats``);
* **peak RSS**: the resident-set high-water mark (``getrusage``'s
  ``ru_maxrss``) of a fresh Python process that runs only that case, so it
  includes the interpreter, torch, the model, the optimiser state and every
  autograd buffer (``tracemalloc`` does not see torch's allocations).

Usage::

    python tools/benchmark.py                      # 256x128 and 512x256
    python tools/benchmark.py --quick              # 256x128, few repeats
    python tools/benchmark.py --resolutions 256x128 --repeats 10 \\
        --threads 2 --out work_dirs/benchmark.json
    python tools/benchmark.py --profile 25         # + torch.profiler table

Resolutions are ``WIDTHxHEIGHT`` (pix2pixHD's 1024x512 is 1024 wide).
Timings on a shared machine are noisy: the load average before and after
is recorded, and best-of-N is the figure to compare (with one thread,
``--threads 1``, the process CPU time per call is a load-proof check).

The optimiser is the paper schedule's (``configs/_base_/schedules/
pix2pixhd_200e.py``: Adam 2e-4, betas (0.5, 0.999), fused), so the step
timed here is the one ``tools/train.py`` runs; ``--adam`` overrides the
implementation for comparisons. Large CPU tensors go on transparent huge
pages (``THP_MEM_ALLOC_ENABLE=1``, set here unless the environment sets
it): on this kind of VM a fresh 38 MB buffer costs ~20 ms of 4 KiB page
faults otherwise.
"""
import argparse
import json
import os

# Read by torch at its first large CPU allocation, so before importing it.
os.environ.setdefault('THP_MEM_ALLOC_ENABLE', '1')
import platform
import resource
import statistics
import subprocess
import sys
import time
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

TARGETS = {'train': 0.65, 'infer': 0.95}
REFERENCE = ('official pix2pixHD networks at 256x128 on this machine: '
             '4.2 s/step, 225 GFLOP (~45%); 0.56 s/image, 61 GFLOP (~90%)')
NUM_CLASSES = 35  # Cityscapes label ids; + 1 instance-edge channel = 36
PAPER_NETWORKS = dict(
    generator=dict(type='GlobalGenerator', base_channels=64,
                   num_downsamples=4, num_blocks=9),
    discriminator=dict(type='MultiScaleDiscriminator', num_scales=2))
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCHEDULE = os.path.join(REPO, 'configs', '_base_', 'schedules',
                        'pix2pixhd_200e.py')
ADAM_IMPLEMENTATIONS = {'config': {}, 'fused': dict(fused=True, foreach=None),
                        'foreach': dict(fused=None, foreach=True),
                        'loop': dict(fused=None, foreach=False)}
GIB = 1024**3


# --------------------------------------------------------------- utilities
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


def time_calls(fn: Callable[[], object], repeats: int,
               warmup: int = 1) -> Dict[str, object]:
    """Wall-clock seconds of ``fn()``: ``warmup`` untimed calls, then
    ``repeats`` timed ones; also the process CPU seconds of each call (all
    threads: with one thread a measure that time-slicing by other processes
    does not inflate)."""
    for _ in range(warmup):
        fn()
    times, cpu_times = [], []
    for _ in range(repeats):
        start, cpu_start = time.perf_counter(), time.process_time()
        fn()
        times.append(time.perf_counter() - start)
        cpu_times.append(time.process_time() - cpu_start)
    return dict(best=min(times), median=statistics.median(times), times=times,
                cpu_times=cpu_times)


def count_flops(fn: Callable[[], object]) -> Tuple[int, Dict[str, int]]:
    """Run ``fn`` once under ``FlopCounterMode``; return the total FLOPs and
    the FLOPs per aten op (2 per multiply-accumulate)."""
    counter = FlopCounterMode(display=False)
    with counter:
        fn()
    per_op = {str(op).split('.')[-1]: int(n)
              for op, n in counter.get_flop_counts()['Global'].items()}
    return int(counter.get_total_flops()), per_op


def conv_throughput(repeats: int = 10, channels: int = 256, size: int = 128,
                    device: str = 'cpu') -> Dict[str, object]:
    """fp32 FLOP/s of a 3x3, stride-1, ``channels -> channels`` convolution
    forward on a ``1 x channels x size x size`` map: the best over the
    contiguous and channels-last layouts of the best of ``repeats`` calls."""
    x = torch.randn(1, channels, size, size, device=device)
    w = torch.randn(channels, channels, 3, 3, device=device) * 0.02
    flops = 2 * channels * channels * 9 * size * size
    result = dict(flops=flops, shape=[1, channels, size, size], layouts={})
    for layout, fmt in (('contiguous', torch.contiguous_format),
                        ('channels_last', torch.channels_last)):
        xl, wl = x.contiguous(memory_format=fmt), w.contiguous(memory_format=fmt)

        def conv():
            F.conv2d(xl, wl, padding=1)
            if device != 'cpu':
                torch.cuda.synchronize()
        with torch.no_grad():
            timing = time_calls(conv, repeats, warmup=2)
        result['layouts'][layout] = flops / timing['best']
        result.setdefault('layouts_cpu_time', {})[layout] = \
            flops / min(timing['cpu_times'])
    result['flops_per_s'] = max(result['layouts'].values())
    result['flops_per_cpu_s'] = max(result['layouts_cpu_time'].values())
    return result


def peak_rss_bytes() -> int:
    """This process's resident-set high-water mark (Linux: KiB -> bytes;
    macOS reports bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == 'darwin' else peak * 1024


# --------------------------------------------------------- model and data
def optimizer_cfg(adam: str = 'config') -> dict:
    """The paper schedule's ``optim_wrapper`` (without ``constructor``),
    with the Adam implementation replaced unless ``adam='config'``."""
    from mmengine.config import Config
    cfg = Config.fromfile(SCHEDULE).optim_wrapper.to_dict()
    cfg.pop('constructor', None)
    for role in cfg.values():
        role['optimizer'].update(ADAM_IMPLEMENTATIONS[adam])
    return cfg


def build(networks: Optional[dict] = None, num_classes: int = NUM_CLASSES,
          with_optimizer: bool = True, adam: str = 'config'):
    """pix2pixHD (LSGAN + feature matching, no VGG) as in the paper configs,
    and its optimiser wrappers (the paper schedule's Adam) made by
    ``GANOptimWrapperConstructor``, without a runner."""
    from mmengine.registry import DefaultScope

    import gentk.engine  # noqa: F401 registers the constructor
    import gentk.models  # noqa: F401 registers the networks
    from gentk.registry import MODELS, OPTIM_WRAPPER_CONSTRUCTORS

    networks = networks or PAPER_NETWORKS
    cfg = dict(
        type='Pix2PixHD',
        data_preprocessor=dict(type='GenDataPreprocessor',
                               num_classes=num_classes,
                               use_instance_edges=True),
        generator=dict(networks['generator']),
        discriminator=dict(networks['discriminator']),
        gan_loss=dict(type='GANLoss', gan_type='lsgan'),
        feature_matching_loss=dict(type='FeatureMatchingLoss',
                                   loss_weight=10.0))
    with DefaultScope.overwrite_default_scope('gentk'):
        # The networks initialise themselves (pix2pixHD's N(0, 0.02)) at
        # construction; there is no init_cfg to apply.
        model = MODELS.build(cfg)
        optim_wrapper = None
        if with_optimizer:
            optim_wrapper = OPTIM_WRAPPER_CONSTRUCTORS.build(dict(
                type='GANOptimWrapperConstructor',
                optim_wrapper_cfg=optimizer_cfg(adam)))(model)
    return model, optim_wrapper


def make_batch(width: int, height: int, batch_size: int = 1,
               seed: int = 0) -> dict:
    """A packed batch of synthetic street scenes (Cityscapes label ids,
    instance ids, photos) at ``width x height``."""
    from gentk.datasets.synthetic_streets import render_street_scene
    inputs = dict(img=[], label=[], inst=[])
    for i in range(batch_size):
        scene = render_street_scene(seed + i, height=height, width=width)
        inputs['img'].append(torch.from_numpy(
            np.ascontiguousarray(scene['img'].transpose(2, 0, 1))))
        inputs['label'].append(torch.from_numpy(scene['label'].astype(np.int64)))
        inputs['inst'].append(torch.from_numpy(scene['inst'].astype(np.int64)))
    return {'inputs': inputs}


def num_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


# ------------------------------------------------------------------ cases
def run_case(mode: str, width: int, height: int, repeats: int = 5,
             warmup: int = 2, batch_size: int = 1,
             networks: Optional[dict] = None, num_classes: int = NUM_CLASSES,
             profile_rows: int = 0, seed: int = 0,
             adam: str = 'config') -> Dict[str, object]:
    """Time one case in this process. ``mode``: ``'train'`` (one
    ``train_step``) or ``'infer'`` (``model.sample`` of one batch)."""
    if mode not in TARGETS:
        raise ValueError(f"mode must be 'train' or 'infer', got {mode!r}")
    torch.manual_seed(seed)
    model, optim_wrapper = build(networks, num_classes,
                                 with_optimizer=mode == 'train', adam=adam)
    data = make_batch(width, height, batch_size, seed)
    if mode == 'train':
        model.train()

        def step():
            return model.train_step(data, optim_wrapper)
    else:
        model.eval()
        inputs = model.data_preprocessor(data)['inputs']

        def step():
            return model.sample(inputs)
    # Warm-up first: it allocates the optimiser state, so the counted step
    # is a steady-state one.
    timing = time_calls(step, repeats, warmup=warmup)
    flops, flops_per_op = count_flops(step)
    per_item = batch_size if mode == 'infer' else 1
    seconds = timing['best'] / per_item
    case = dict(
        mode=mode, width=width, height=height, batch_size=batch_size,
        seconds=seconds, seconds_median=timing['median'] / per_item,
        times=timing['times'], cpu_times=timing['cpu_times'],
        flops=flops / per_item,
        flops_per_op={k: v / per_item for k, v in flops_per_op.items()},
        flops_per_s=flops / timing['best'],
        generator_params=num_params(model.generator),
        discriminator_params=num_params(model.discriminator),
        threads=torch.get_num_threads())
    if optim_wrapper is not None:
        case['optimizer'] = {
            role: {k: v for k, v in wrapper.optimizer.defaults.items()
                   if k in ('lr', 'betas', 'fused', 'foreach')}
            for role, wrapper in optim_wrapper.items()}
    if profile_rows:
        case['profile'] = profile_table(step, profile_rows)
    case['peak_rss_bytes'] = peak_rss_bytes()
    return case


def profile_table(step: Callable[[], object], rows: int) -> str:
    """``torch.profiler`` table (self CPU time) of one call of ``step``."""
    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        step()
    return prof.key_averages().table(sort_by='self_cpu_time_total',
                                     row_limit=rows)


def run_case_isolated(mode: str, width: int, height: int, threads: int,
                      **kwargs) -> Dict[str, object]:
    """``run_case`` in a fresh interpreter, so that ``peak_rss_bytes`` is
    that case's own high-water mark."""
    spec = dict(mode=mode, width=width, height=height, **kwargs)
    env = dict(os.environ, OMP_NUM_THREADS=str(threads),
               MKL_NUM_THREADS=str(threads))
    proc = subprocess.run(
        [sys.executable, os.path.abspath(__file__), '--worker',
         json.dumps(spec), '--threads', str(threads)],
        env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f'benchmark worker for {mode} {width}x{height} '
                           f'failed ({proc.returncode}):\n{proc.stderr[-4000:]}')
    return json.loads(proc.stdout.strip().splitlines()[-1])


def summarise(case: dict, peak_flops_per_s: float,
              peak_flops_per_cpu_s: float = 0.0) -> dict:
    """Add the fraction of the conv peak and the verdict against the target."""
    case = dict(case)
    case['conv_peak_fraction'] = case['flops_per_s'] / peak_flops_per_s
    if peak_flops_per_cpu_s:  # the same ratio in CPU seconds
        case['conv_peak_fraction_cpu_time'] = (
            case['flops'] / min(case['cpu_times']) / peak_flops_per_cpu_s)
    case['target'] = TARGETS[case['mode']]
    case['meets_target'] = case['conv_peak_fraction'] >= case['target']
    return case


def run_benchmark(resolutions: Sequence[Tuple[int, int]] = ((256, 128),),
                  modes: Sequence[str] = ('train', 'infer'),
                  repeats: int = 5, warmup: int = 2, threads: int = 0,
                  batch_size: int = 1, networks: Optional[dict] = None,
                  num_classes: int = NUM_CLASSES, isolate: bool = True,
                  peak_repeats: int = 10, peak_channels: int = 256,
                  peak_size: int = 128, profile_rows: int = 0,
                  adam: str = 'config') -> dict:
    """Every (resolution, mode) case; the report as a JSON-able dict."""
    if threads:
        torch.set_num_threads(threads)
    threads = torch.get_num_threads()
    report = dict(
        machine=dict(platform=platform.platform(),
                     processor=platform.processor() or platform.machine(),
                     cpu_count=os.cpu_count(), torch=torch.__version__,
                     mkldnn=torch.backends.mkldnn.is_available(),
                     threads=threads, load_before=os.getloadavg()),
        settings=dict(repeats=repeats, warmup=warmup, batch_size=batch_size,
                      isolate=isolate, networks=networks or PAPER_NETWORKS,
                      num_classes=num_classes,
                      optimizer=optimizer_cfg(adam), adam=adam,
                      thp_mem_alloc=os.environ.get('THP_MEM_ALLOC_ENABLE'),
                      flops='FlopCounterMode: conv/matmul, 2 per MAC',
                      peak_rss='getrusage ru_maxrss of a fresh process per '
                               'case' if isolate else
                               'getrusage ru_maxrss of this process'),
        targets=TARGETS, reference=REFERENCE)
    peak = conv_throughput(peak_repeats, peak_channels, peak_size)
    report['conv_peak'] = peak
    cases = []
    for width, height in resolutions:
        for mode in modes:
            kwargs = dict(repeats=repeats, warmup=warmup,
                          batch_size=batch_size, networks=networks,
                          num_classes=num_classes, profile_rows=profile_rows,
                          adam=adam)
            case = (run_case_isolated(mode, width, height, threads, **kwargs)
                    if isolate else run_case(mode, width, height, **kwargs))
            cases.append(summarise(case, peak['flops_per_s'],
                                   peak['flops_per_cpu_s']))
    report['cases'] = cases
    report['machine']['load_after'] = os.getloadavg()
    return report


# ----------------------------------------------------------------- output
def render(report: dict, console=None) -> None:
    """Print the report as a rich table."""
    from rich.console import Console
    from rich.table import Table
    if console is None:  # a pipe or file gets the whole table, not 80 columns
        console = Console() if sys.stdout.isatty() else Console(width=160)
    machine, peak = report['machine'], report['conv_peak']
    layouts = ', '.join(f'{k} {v / 1e9:.0f}'
                        for k, v in peak['layouts'].items())
    table = Table(title=(
        f'pix2pixHD benchmark - torch {machine["torch"]}, '
        f'{machine["threads"]} threads, fp32 3x3 conv peak '
        f'{peak["flops_per_s"] / 1e9:.0f} GFLOP/s ({layouts})'))
    for column in ('resolution', 'case', 'best s', 'median s', 'CPU s',
                   'GFLOP', 'GFLOP/s', '% conv peak', '(CPU time)', 'target',
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
            f'[{"green" if ok else "red"}]{fraction}[/]',
            f'{100 * case.get("conv_peak_fraction_cpu_time", 0):.1f}%',
            f'>= {100 * case["target"]:.0f}%',
            f'{case["peak_rss_bytes"] / GIB:.2f}')
    console.print(table)
    console.print('CPU s: process CPU time of the best call (all threads; '
                  'with --threads 1 it is immune to time-slicing by other '
                  'processes), and the conv-peak ratio in CPU time.')
    console.print(f'load average before {machine["load_before"]}, after '
                  f'{machine["load_after"]}; reference: {report["reference"]}')
    for case in report['cases']:
        if case.get('profile'):
            console.print(f'[bold]{case["mode"]} {case["width"]}x'
                          f'{case["height"]}[/]')
            console.print(case['profile'], markup=False, highlight=False)


def main(argv: Optional[List[str]] = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
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
                        help='256x128 only, 2 repeats, 1 warm-up')
    parser.add_argument('--no-isolate', action='store_true',
                        help='run every case in this process (peak RSS is '
                             "then the whole run's)")
    parser.add_argument('--adam', choices=sorted(ADAM_IMPLEMENTATIONS),
                        default='config',
                        help="Adam implementation (default: the schedule "
                             "config's)")
    parser.add_argument('--profile', type=int, default=0, metavar='ROWS',
                        help='also print a torch.profiler table of one call')
    parser.add_argument('--out', default='work_dirs/benchmark.json',
                        help='JSON report path ("" to skip)')
    parser.add_argument('--worker', default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.worker is not None:  # one isolated case; JSON on the last line
        print(json.dumps(run_case(**json.loads(args.worker))))
        return {}
    resolutions = args.resolutions or (
        [(256, 128)] if args.quick else [(256, 128), (512, 256)])
    repeats = args.repeats or (2 if args.quick else 5)
    warmup = 1 if args.quick else args.warmup
    report = run_benchmark(
        resolutions, args.modes, repeats=repeats, warmup=warmup,
        threads=args.threads, batch_size=args.batch_size,
        isolate=not args.no_isolate, peak_repeats=4 if args.quick else 10,
        profile_rows=args.profile, adam=args.adam)
    render(report)
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as f:
            json.dump(report, f, indent=2)
        print(f'wrote {args.out}')
    return report


if __name__ == '__main__':
    main()
