"""Timing, FLOP counting and memory helpers shared by the benchmarks."""
import resource
import statistics
import sys
import time
from typing import Callable, Dict, List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode


def time_calls(fn: Callable[[], object], repeats: int, warmup: int = 1,
               between: Optional[Callable[[], object]] = None
               ) -> Dict[str, object]:
    """Wall-clock seconds of ``fn()``: ``warmup`` untimed calls, then
    ``repeats`` timed ones, each followed by an untimed ``between()``;
    also the process CPU seconds of each call (all threads: with one thread
    a measure that time-slicing by other processes does not inflate)."""
    for _ in range(warmup):
        fn()
    times, cpu_times = [], []
    for _ in range(repeats):
        start, cpu_start = time.perf_counter(), time.process_time()
        fn()
        times.append(time.perf_counter() - start)
        cpu_times.append(time.process_time() - cpu_start)
        if between is not None:
            between()
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


def best_throughput(samples: List[Dict[str, object]]) -> Dict[str, object]:
    """The best of several ``conv_throughput`` results, wall-clock and CPU
    time each, with every sample's wall-clock figure."""
    return dict(flops_per_s=max(s['flops_per_s'] for s in samples),
                flops_per_cpu_s=max(s['flops_per_cpu_s'] for s in samples),
                samples=[s['flops_per_s'] for s in samples])


def peak_rss_bytes() -> int:
    """This process's resident-set high-water mark (Linux: KiB -> bytes;
    macOS reports bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == 'darwin' else peak * 1024


def profile_table(step: Callable[[], object], rows: int) -> str:
    """``torch.profiler`` table (self CPU time) of one call of ``step``."""
    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        step()
    return prof.key_averages().table(sort_by='self_cpu_time_total',
                                     row_limit=rows)
