"""gentk.benchmark and tools/benchmark.py on tiny networks: report structure
and FLOP counting (no timing assertions: timings on a shared machine mean
nothing here)."""
import importlib.util
import io
import json
import os

import numpy as np
import pytest
import torch
from torch import nn

from gentk.benchmark import pix2pixhd as benchmark
from gentk.benchmark.timing import conv_throughput, count_flops

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
spec = importlib.util.spec_from_file_location(
    'gentk_benchmark_cli', os.path.join(REPO, 'tools', 'benchmark.py'))
cli = importlib.util.module_from_spec(spec)
spec.loader.exec_module(cli)

TINY = dict(
    generator=dict(type='GlobalGenerator', base_channels=4, num_downsamples=2,
                   num_blocks=1),
    discriminator=dict(type='MultiScaleDiscriminator', num_scales=2,
                       base_channels=4, num_layers=2))
CASE_KEYS = {'mode', 'width', 'height', 'batch_size', 'seconds', 'cpu_times',
             'conv_peak_fraction_cpu_time',
             'seconds_median', 'times', 'flops', 'flops_per_op', 'flops_per_s',
             'executed_flops',
             'generator_params', 'discriminator_params', 'threads',
             'peak_rss_bytes', 'conv_peak', 'conv_peak_fraction', 'target',
             'meets_target'}


def test_flops_of_one_convolution_match_a_hand_count():
    conv = nn.Conv2d(3, 5, kernel_size=3, stride=2, padding=1)
    x = torch.randn(2, 3, 9, 12)
    macs = 2 * 5 * 3 * 3 * 3 * 5 * 6  # batch, C_out, C_in, k, k, H_out, W_out
    flops, per_op = count_flops(lambda: conv(x))
    assert flops == 2 * macs
    assert per_op == {'convolution': 2 * macs}
    # Backward counts only what autograd asks for: the weight gradient of a
    # leaf input (one more forward's worth), plus the input gradient when
    # the input requires one.
    flops, per_op = count_flops(lambda: conv(x).sum().backward())
    assert flops == 2 * 2 * macs
    assert per_op['convolution_backward'] == 2 * macs
    x.requires_grad_(True)
    flops, _ = count_flops(lambda: conv(x).sum().backward())
    assert flops == 3 * 2 * macs


def test_flops_of_a_transposed_convolution():
    deconv = nn.ConvTranspose2d(4, 2, 3, stride=2, padding=1, output_padding=1)
    x = torch.randn(1, 4, 5, 6)
    # every input pixel meets every kernel tap once
    flops, _ = count_flops(lambda: deconv(x))
    assert flops == 2 * 4 * 2 * 3 * 3 * 5 * 6


def test_parse_resolution():
    assert cli.parse_resolution('256x128') == (256, 128)
    assert cli.parse_resolution('512X256') == (512, 256)
    for bad in ('256', '256x', 'axb', '0x4'):
        with pytest.raises(Exception):
            cli.parse_resolution(bad)


def test_conv_throughput_reports_both_layouts():
    peak = conv_throughput(repeats=1, channels=4, size=8)
    assert set(peak['layouts']) == {'contiguous', 'channels_last'}
    assert peak['flops'] == 2 * 4 * 4 * 9 * 8 * 8
    assert peak['flops_per_s'] == max(peak['layouts'].values()) > 0


def test_report_structure_on_tiny_networks():
    report = benchmark.run_pix2pixhd_benchmark(
        resolutions=[(32, 16)], repeats=1, warmup=1, networks=TINY,
        isolate=False, peak_repeats=1, peak_channels=8, peak_size=16)
    assert set(report) >= {'machine', 'settings', 'targets', 'conv_peak',
                           'cases', 'reference'}
    assert [c['mode'] for c in report['cases']] == ['train', 'infer']
    assert report['conv_peak']['flops_per_s'] > 0  # at the start
    for case in report['cases']:
        assert CASE_KEYS <= set(case)
        assert (case['width'], case['height']) == (32, 16)
        assert case['seconds'] > 0 and len(case['times']) == 1
        assert case['flops'] > 0 and case['peak_rss_bytes'] > 0
        assert case['flops'] == sum(case['flops_per_op'].values())
        # The case's own peak, measured once after each of its timed calls.
        peak = case['conv_peak']
        assert len(peak['samples']) == 1
        assert peak['flops_per_s'] == max(peak['samples']) > 0
        assert case['conv_peak_fraction'] == pytest.approx(
            case['flops'] / case['seconds'] / peak['flops_per_s'])
        assert case['conv_peak_fraction_cpu_time'] == pytest.approx(
            case['flops'] / min(case['cpu_times']) / peak['flops_per_cpu_s'])
        assert case['target'] == benchmark.TARGETS[case['mode']]
    train, infer = report['cases']
    # the optimiser is the paper schedule config's (fused Adam)
    assert report['settings']['optimizer']['generator']['optimizer']['type'] \
        == 'Adam'
    assert train['optimizer']['generator']['fused'] is True
    assert report['conv_peak']['flops_per_cpu_s'] > 0
    # a training step runs G forward and backward and D three times
    assert train['flops'] > 3 * infer['flops']
    assert 'convolution_backward' in train['flops_per_op']
    assert 'convolution_backward' not in infer['flops_per_op']
    json.dumps(report)  # the --out file
    out = io.StringIO()
    from rich.console import Console
    cli.render_pix2pixhd(report, Console(file=out, width=160))
    assert '32x16' in out.getvalue() and '% conv peak' in out.getvalue()


def test_inference_flops_match_the_generator_convolutions():
    """Hand count of the tiny generator's forward (batch 1, 32x16 input is
    already a multiple of 4, so no padding): every conv's MACs x 2."""
    case = benchmark.run_case('infer', 32, 16, repeats=1, warmup=0,
                              networks=TINY)
    h, w = 16, 32
    macs = (36 * 4 * 49 * h * w                      # stem c7s1-4 (35 + 1 inputs)
            + 4 * 8 * 9 * h // 2 * w // 2            # d8
            + 8 * 16 * 9 * h // 4 * w // 4           # d16
            + 2 * 16 * 16 * 9 * h // 4 * w // 4      # one residual block
            + 16 * 8 * 9 * h // 4 * w // 4           # u8 (per input pixel)
            + 8 * 4 * 9 * h // 2 * w // 2            # u4
            + 4 * 3 * 49 * h * w)                    # head c7s1-3
    assert case['flops'] == 2 * macs


def test_isolated_case_reports_its_own_peak_rss():
    case = benchmark.run_case_isolated('infer', 32, 16, threads=1, repeats=1,
                                       warmup=0, networks=TINY)
    assert case['mode'] == 'infer' and case['threads'] == 1
    assert case['peak_rss_bytes'] > 0 and case['flops'] > 0
    assert case['pid'] != os.getpid()   # measured in a process of its own


def test_metric_benchmark_runs_every_measure_end_to_end(
        fid_inception_weights):
    from gentk.benchmark import metrics
    report = metrics.run_metric_benchmark(
        fid_images=4, repeats=1, inception_weights=fid_inception_weights)
    inception = report['inception']
    assert inception['metric_images_per_s'] > 0
    assert inception['metric_over_plain'] == pytest.approx(
        inception['metric_images_per_s'] / inception['plain_images_per_s'])
    fid = report['fid']
    # 4 generated images vs the cached statistics of 64 real ones: a finite,
    # positive distance computed by runner.test() with the real network
    assert fid['num_images'] == 4 and fid['seconds'] > 0
    assert fid['inception_weights'] == fid_inception_weights
    assert np.isfinite(fid['fid']) and fid['fid'] > 1
    (seg,) = report['segmentors'].values()
    assert seg['size'] == [128, 256] and seg['images_per_s'] > 0
    assert seg['inference_scale'] == 2.0
    json.dumps(report)
    out = io.StringIO()
    from rich.console import Console
    cli.render_metrics(report, Console(file=out, width=160))
    assert 'FID end to end, 4 images' in out.getvalue()
