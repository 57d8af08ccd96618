"""Speed and memory of pix2pixHD training and inference on this machine.

For the paper-sized networks (``GlobalGenerator(36, base_channels=64,
num_downsamples=4, num_blocks=9)``, ``MultiScaleDiscriminator(39,
num_scales=2)``, LSGAN + feature matching, no VGG, batch 1, Adam through
``GANOptimWrapperConstructor``) at reduced resolutions, report per case:

* **train**: seconds per ``Pix2PixHD.train_step`` (data preprocessing, G
  forward, G step, D step, both Adam updates), best of ``--repeats`` after
  ``--warmup`` steps (the median is reported too);
* **infer**: seconds per generated image (``model.sample`` under no_grad);
* **GFLOP**: floating-point operations of one step / one sample, counted by
  ``torch.utils.flop_counter.FlopCounterMode`` while it runs with every
  ``gentk.models.layers.Conv2d`` as a direct convolution
  (``native_convolutions``): convolutions (forward, and backward only for
  the gradients autograd actually asks for: ``output_mask``), transposed
  convolutions and matrix products, at 2 FLOPs per multiply-accumulate.
  These are the network's FLOPs (the figure the issue quotes for the
  official code), the same whichever algorithm runs a convolution.
  Element-wise work (norms, activations, padding, losses, Adam) is not
  counted: it is pure overhead here;
* **executed GFLOP**: the same count of what actually ran: smaller where
  ``Conv2d`` takes Winograd's F(2x2, 3x3), whose products do 4 of every 9
  multiply-accumulates (the small transforms counted too), and where it
  runs a one-hot stem as a table lookup (additions only, not counted);
* **% conv peak**: (GFLOP / seconds) as a fraction of this machine's fp32
  3x3-convolution throughput, measured by this script (a
  ``256 -> 256`` 3x3 convolution forward on a 128x128 map, contiguous and
  channels-last, best of both). The clock of a shared VM drifts by 5-10%
  over a run, so the peak of a case is measured in the case's own process
  between its timed calls (best of ``PEAK_CALLS`` calls after each, best
  over all), where the step's time is; the peak measured at the start of
  the run is reported beside it;
* **peak RSS**: the resident-set high-water mark (``getrusage``'s
  ``ru_maxrss``) of a fresh Python process that runs only that case, so it
  includes the interpreter, torch, the model, the optimiser state and every
  autograd buffer (``tracemalloc`` does not see torch's allocations).

Resolutions are ``WIDTHxHEIGHT`` (pix2pixHD's 1024x512 is 1024 wide).
Timings on a shared machine are noisy: the load average before and after
is recorded, and best-of-N is the figure to compare (with one thread,
``--threads 1``, the process CPU time per call is a load-proof check).

The model is built from the paper's model config
(``configs/_base_/models/pix2pixhd_global.py``: its data preprocessor,
channels-last included, its losses) with the VGG loss left out, and the
optimiser is the paper schedule's (``configs/_base_/schedules/
pix2pixhd_200e.py``: Adam 2e-4, betas (0.5, 0.999), fused), so the step
timed here is the one ``tools/train.py`` runs; ``--adam`` overrides the
implementation for comparisons. As in training runs, freed memory stays
in the heap when the default runtime says ``keep_freed_cpu_memory=True``
(``gentk.utils.cpu_heap``); ``keep_freed_memory=False``
(``--malloc-default``) measures glibc's default instead. Like the other
tools, ``tools/benchmark.py`` restarts itself with huge pages for the heap
where the machine offers them on request (``gentk.huge_pages``; off with
``GENTK_HUGE_PAGES=0``); the isolated cases inherit it, and the report
says whether it was in effect.
"""
import json
import os
import platform
import subprocess
import sys
from typing import Dict, Optional, Sequence, Tuple

import numpy as np
import torch

from ..huge_pages import huge_pages_requested
from ..models.layers.matmul_conv import native_convolutions
from ..utils import cpu_heap
from .timing import (best_throughput, conv_throughput, count_flops,
                     peak_rss_bytes, profile_table, time_calls)

TARGETS = {'train': 0.65, 'infer': 0.95}
# Conv-peak calls per layout after each timed call (after two warm-up calls).
PEAK_CALLS = 3
REFERENCE = ('the issue quotes the official pix2pixHD networks at 256x128 at '
             '4.2 s/step, 225 GFLOP (~45%); 0.56 s/image, 61 GFLOP (~90%); '
             'measured by this harness: docs/benchmark.md')
NUM_CLASSES = 35  # Cityscapes label ids; + 1 instance-edge channel = 36
PAPER_NETWORKS = dict(
    generator=dict(type='GlobalGenerator', base_channels=64,
                   num_downsamples=4, num_blocks=9),
    discriminator=dict(type='MultiScaleDiscriminator', num_scales=2))
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCHEDULE = os.path.join(REPO, 'configs', '_base_', 'schedules',
                        'pix2pixhd_200e.py')
RUNTIME = os.path.join(REPO, 'configs', '_base_', 'default_runtime.py')
MODEL = os.path.join(REPO, 'configs', '_base_', 'models', 'pix2pixhd_global.py')
ADAM_IMPLEMENTATIONS = {'config': {}, 'fused': dict(fused=True, foreach=None),
                        'foreach': dict(fused=None, foreach=True),
                        'loop': dict(fused=None, foreach=False)}


def runtime_keeps_freed_memory() -> bool:
    """The default runtime's ``keep_freed_cpu_memory``: what a training run
    with ``tools/train.py`` does, so what the benchmark does by default."""
    from mmengine.config import Config
    return bool(Config.fromfile(RUNTIME).get('keep_freed_cpu_memory', False))


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
    """pix2pixHD as the paper's model config builds it (LSGAN + feature
    matching, no VGG, its data preprocessor with its memory layout), and
    its optimiser wrappers (the paper schedule's Adam) made by
    ``GANOptimWrapperConstructor``, without a runner."""
    from mmengine.config import Config
    from mmengine.registry import DefaultScope

    import gentk.engine  # noqa: F401 registers the constructor
    import gentk.models  # noqa: F401 registers the networks
    from gentk.registry import MODELS, OPTIM_WRAPPER_CONSTRUCTORS

    networks = networks or PAPER_NETWORKS
    cfg = Config.fromfile(MODEL).model.to_dict()
    cfg['data_preprocessor']['num_classes'] = num_classes
    cfg.update(generator=dict(networks['generator']),
               discriminator=dict(networks['discriminator']),
               perceptual_loss=None)
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


def run_case(mode: str, width: int, height: int, repeats: int = 5,
             warmup: int = 2, batch_size: int = 1,
             networks: Optional[dict] = None, num_classes: int = NUM_CLASSES,
             profile_rows: int = 0, seed: int = 0,
             adam: str = 'config',
             keep_freed_memory: Optional[bool] = None,
             peak_channels: int = 256,
             peak_size: int = 128) -> Dict[str, object]:
    """Time one case in this process. ``mode``: ``'train'`` (one
    ``train_step``) or ``'infer'`` (``model.sample`` of one batch);
    ``keep_freed_memory=None`` follows the default runtime; the conv peak
    (``peak_channels``, ``peak_size``: see ``conv_throughput``) is measured
    between the timed calls."""
    if mode not in TARGETS:
        raise ValueError(f"mode must be 'train' or 'infer', got {mode!r}")
    if keep_freed_memory is None:
        keep_freed_memory = runtime_keeps_freed_memory()
    if keep_freed_memory:
        cpu_heap.keep_freed_memory()
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
    peaks = []

    def measure_peak():
        peaks.append(conv_throughput(PEAK_CALLS, peak_channels, peak_size))
    timing = time_calls(step, repeats, warmup=warmup, between=measure_peak)
    # Before the FLOP counts: their run with the native convolutions must
    # not raise the high-water mark of the configuration that was timed.
    peak_rss = peak_rss_bytes()
    # The step's FLOPs are the network's as written (every convolution a
    # direct one), whatever algorithm runs it: counted with the faster
    # routes off. Winograd's products do fewer; those are reported apart.
    with native_convolutions():
        flops, flops_per_op = count_flops(step)
    executed_flops, _ = count_flops(step)
    per_item = batch_size if mode == 'infer' else 1
    seconds = timing['best'] / per_item
    case = dict(
        mode=mode, width=width, height=height, batch_size=batch_size,
        seconds=seconds, seconds_median=timing['median'] / per_item,
        times=timing['times'], cpu_times=timing['cpu_times'],
        flops=flops / per_item,
        flops_per_op={k: v / per_item for k, v in flops_per_op.items()},
        flops_per_s=flops / timing['best'],
        executed_flops=executed_flops / per_item,
        generator_params=num_params(model.generator),
        discriminator_params=num_params(model.discriminator),
        threads=torch.get_num_threads(),
        keeps_freed_memory=cpu_heap.keeps_freed_memory(),
        conv_peak=best_throughput(peaks),
        pid=os.getpid())  # whose peak RSS it is
    if optim_wrapper is not None:
        case['optimizer'] = {
            role: {k: v for k, v in wrapper.optimizer.defaults.items()
                   if k in ('lr', 'betas', 'fused', 'foreach')}
            for role, wrapper in optim_wrapper.items()}
    if profile_rows:
        case['profile'] = profile_table(step, profile_rows)
    case['peak_rss_bytes'] = peak_rss
    return case


def run_case_isolated(mode: str, width: int, height: int, threads: int,
                      **kwargs) -> Dict[str, object]:
    """``run_case`` in a fresh interpreter, so that ``peak_rss_bytes`` is
    that case's own high-water mark."""
    spec = dict(mode=mode, width=width, height=height, **kwargs)
    env = dict(os.environ, OMP_NUM_THREADS=str(threads),
               MKL_NUM_THREADS=str(threads))
    proc = subprocess.run(
        [sys.executable, '-m', 'gentk.benchmark.pix2pixhd',
         json.dumps(spec)],
        env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f'benchmark worker for {mode} {width}x{height} '
                           f'failed ({proc.returncode}):\n{proc.stderr[-4000:]}')
    return json.loads(proc.stdout.strip().splitlines()[-1])


def summarise(case: dict) -> dict:
    """Add the fraction of the case's conv peak, in wall-clock and in CPU
    seconds, and the verdict against the target."""
    case = dict(case)
    peak = case['conv_peak']
    case['conv_peak_fraction'] = case['flops_per_s'] / peak['flops_per_s']
    case['conv_peak_fraction_cpu_time'] = (
        case['flops'] / min(case['cpu_times']) / peak['flops_per_cpu_s'])
    case['target'] = TARGETS[case['mode']]
    case['meets_target'] = case['conv_peak_fraction'] >= case['target']
    return case


def run_pix2pixhd_benchmark(
        resolutions: Sequence[Tuple[int, int]] = ((256, 128),),
        modes: Sequence[str] = ('train', 'infer'),
        repeats: int = 5, warmup: int = 2, threads: int = 0,
        batch_size: int = 1, networks: Optional[dict] = None,
        num_classes: int = NUM_CLASSES, isolate: bool = True,
        peak_repeats: int = 10, peak_channels: int = 256,
        peak_size: int = 128, profile_rows: int = 0,
        adam: str = 'config',
        keep_freed_memory: Optional[bool] = None) -> dict:
    """Every (resolution, mode) case; the report as a JSON-able dict.
    ``keep_freed_memory=None`` follows the default runtime."""
    if keep_freed_memory is None:
        keep_freed_memory = runtime_keeps_freed_memory()
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
                      keep_freed_memory=keep_freed_memory,
                      huge_pages=huge_pages_requested(),
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
                          adam=adam, keep_freed_memory=keep_freed_memory,
                          peak_channels=peak_channels, peak_size=peak_size)
            case = (run_case_isolated(mode, width, height, threads, **kwargs)
                    if isolate else run_case(mode, width, height, **kwargs))
            cases.append(summarise(case))
    report['cases'] = cases
    report['machine']['load_after'] = os.getloadavg()
    return report


if __name__ == '__main__':  # one isolated case (run_case_isolated)
    torch.set_num_threads(int(os.environ.get('OMP_NUM_THREADS', '0'))
                          or torch.get_num_threads())
    print(json.dumps(run_case(**json.loads(sys.argv[1]))))
