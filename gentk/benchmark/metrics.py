"""Throughput of the evaluation metrics on this machine.

* **Inception features**: images per second of FID feature extraction as
  the metrics run it (``FrechetInceptionDistance.process``: 8-bit
  quantisation, batched resize to 299 on the network's device,
  channels-last, inference mode, float64 running sums) against the same
  network run plainly in PyTorch (``no_grad``, channels-last, one batched
  ``F.interpolate``, pool3 features) on the same images. The metric's
  path must be at least as fast.
* **FID end to end**: ``runner.test()`` of the CPU-sized pix2pixHD on the
  synthetic streets with ``FrechetInceptionDistance`` as the evaluator:
  scenes rendered by the dataloader, generated, quantised, Inception
  features, running float64 statistics and the Fréchet distance. The real
  side comes from the statistics cache (filled before timing, as it is
  after a first evaluation), so the time is the generated side's.
* **PSPNet evaluation**: images per second of ``segment`` (what
  ``GeneratedSegmentationScores`` calls) for a segmentor config.

Network weights are random unless given: the cost is the same.
"""
import os
import os.path as osp
import tempfile
import time
from typing import Dict, Optional

import torch
import torch.nn.functional as F

from .timing import time_calls

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
FID_CONFIG = osp.join(REPO, 'configs', 'pix2pixhd', 'synthetic_256x128.py')
SEGMENTOR_CONFIG = osp.join(REPO, 'configs', 'pspnet',
                            'pspnet_r18-d8_synthetic_256x128.py')


def random_inception_weights(folder: str) -> str:
    """A state-dict file of a randomly initialised FID Inception (the
    metrics insist on a weights file; random ones cost the same)."""
    from gentk.evaluation.inception import FIDInceptionV3
    path = osp.join(folder, 'random_fid_inception.pth')
    torch.save(FIDInceptionV3(channels_last=False).state_dict(), path)
    return path


def inception_extraction(weights: Optional[str] = None, num_images: int = 64,
                         batch_size: int = 16, height: int = 128,
                         width: int = 256, repeats: int = 3
                         ) -> Dict[str, float]:
    """Images per second of the FID metric's feature extraction and of the
    same network run plainly; best of ``repeats`` passes over
    ``num_images`` random [-1, 1] images of ``height x width``."""
    from gentk.evaluation.fid import FrechetInceptionDistance
    from gentk.evaluation.inception import INPUT_SIZE, FIDInceptionV3
    images = torch.rand(num_images, 3, height, width) * 2 - 1
    with tempfile.TemporaryDirectory() as tmp:
        weights = weights or random_inception_weights(tmp)
        metric = FrechetInceptionDistance(weights, batch_size=batch_size)
        samples = [dict(fake_img=img, gt_img=img) for img in images]
        metric.uses_real = False  # time one side: the generated images

        def metric_pass():
            metric.results.clear()
            for i in range(0, num_images, batch_size):
                metric.process(None, samples[i:i + batch_size])
        net = FIDInceptionV3(weights)  # the module layout, batch norms kept

        def plain_pass():
            with torch.no_grad():
                for chunk in images.split(batch_size):
                    x = F.interpolate(chunk, size=(INPUT_SIZE, INPUT_SIZE),
                                      mode='bilinear', align_corners=False)
                    net.trunk(x.contiguous(memory_format=torch.channels_last))
        metric_time = time_calls(metric_pass, repeats, warmup=1)
        plain_time = time_calls(plain_pass, repeats, warmup=1)
    result = dict(num_images=num_images, batch_size=batch_size,
                  size=[height, width], threads=torch.get_num_threads(),
                  metric_images_per_s=num_images / metric_time['best'],
                  plain_images_per_s=num_images / plain_time['best'],
                  metric_cpu_images_per_s=num_images / min(
                      metric_time['cpu_times']),
                  plain_cpu_images_per_s=num_images / min(
                      plain_time['cpu_times']))
    result['metric_over_plain'] = (result['metric_images_per_s']
                                   / result['plain_images_per_s'])
    return result


def fid_end_to_end(num_images: int = 10000, batch_size: int = 16,
                   weights: Optional[str] = None,
                   checkpoint: Optional[str] = None,
                   config: str = FID_CONFIG,
                   real_images: int = 64) -> Dict[str, float]:
    """Seconds of ``runner.test()`` computing FID over ``num_images``
    generated images (see the module docstring)."""
    from gentk.apis.config import build_runner, load_config
    from gentk.evaluation.fid import FrechetInceptionDistance
    given_weights = weights
    with tempfile.TemporaryDirectory() as tmp:
        weights = weights or random_inception_weights(tmp)
        cache, key = osp.join(tmp, 'stats'), 'benchmark-real'
        evaluator = dict(type='FrechetInceptionDistance',
                         inception_weights=weights, real_stats_cache=cache,
                         dataset_key=key, batch_size=batch_size)
        # Fill the real statistics cache (untimed) from a few real photos:
        # their features once, summarised as the metric stores them.
        filler = FrechetInceptionDistance(weights, real_stats_cache=cache,
                                          dataset_key=key)
        from gentk.datasets.synthetic_streets import render_street_scene
        real = [torch.from_numpy(
                    render_street_scene(1000 + i, height=128, width=256)
                    ['img'].transpose(2, 0, 1).copy()).float() / 127.5 - 1
                for i in range(real_images)]
        features, _ = filler.extract(filler.batch_images(
            [dict(gt_img=img) for img in real], 'gt_img'))
        filler.cache.save(filler.cache_description(), filler.summarize(
            [filler.new_state().update(features)]))
        options = {
            'test_dataloader.batch_size': batch_size,
            'test_dataloader.num_workers': 1,
            'test_dataloader.dataset.num_samples': num_images,
            'custom_hooks': [],
            'log_level': 'WARNING',
        }
        cfg = load_config(config, options, osp.join(tmp, 'work_dir'))
        cfg.test_evaluator = evaluator
        cfg.load_from = checkpoint
        runner = build_runner(cfg)
        print(f'FID end to end over {num_images} generated images '
              '(about 0.15 s each on 2 CPU cores)...', flush=True)
        start, cpu_start = time.perf_counter(), time.process_time()
        metrics = runner.test()
        seconds = time.perf_counter() - start
        cpu_seconds = time.process_time() - cpu_start
    # Random Inception weights collapse every image to nearly the same
    # features: the value is only worth reporting with real weights (and
    # even then the real side is ``real_images`` photos: a timing run).
    return dict(num_images=num_images, batch_size=batch_size,
                seconds=seconds, main_process_cpu_seconds=cpu_seconds,
                images_per_s=num_images / seconds,
                fid=float(metrics['FID/fid']) if given_weights else None,
                real_images=real_images,
                inception_weights=given_weights or 'random',
                checkpoint=checkpoint or 'random weights',
                threads=torch.get_num_threads())


def segmentor_throughput(config: str = SEGMENTOR_CONFIG,
                         height: int = 128, width: int = 256,
                         batch_size: int = 1, repeats: int = 5,
                         warmup: int = 1) -> Dict[str, float]:
    """Images per second of ``model.segment`` on random uint8 photos."""
    from mmengine.registry import DefaultScope

    from gentk.apis.config import load_config
    from gentk.registry import MODELS
    cfg = load_config(config)
    with DefaultScope.overwrite_default_scope('gentk'):
        model = MODELS.build(cfg.model).eval()
    images = torch.randint(0, 256, (batch_size, 3, height, width),
                           dtype=torch.uint8)
    timing = time_calls(lambda: model.segment(images), repeats, warmup)
    return dict(config=osp.relpath(config, REPO), size=[height, width],
                batch_size=batch_size,
                images_per_s=batch_size / timing['best'],
                seconds_per_image=timing['best'] / batch_size,
                inference_scale=getattr(model, 'inference_scale', 1.0),
                params=sum(p.numel() for p in model.parameters()),
                threads=torch.get_num_threads())


def run_metric_benchmark(fid_images: int = 10000, repeats: int = 3,
                         inception_weights: Optional[str] = None,
                         fid_checkpoint: Optional[str] = None,
                         segmentors: Optional[Dict[str, tuple]] = None
                         ) -> dict:
    """All three; ``segmentors`` maps a name to ``(config, height, width)``."""
    segmentors = segmentors or {
        'pspnet_r18-d8 (CPU config)': (SEGMENTOR_CONFIG, 128, 256)}
    report = dict(
        inception=inception_extraction(inception_weights, repeats=repeats),
        segmentors={name: segmentor_throughput(cfg, h, w, repeats=repeats)
                    for name, (cfg, h, w) in segmentors.items()},
        load_before=os.getloadavg())
    if fid_images:
        report['fid'] = fid_end_to_end(fid_images, weights=inception_weights,
                                       checkpoint=fid_checkpoint)
    report['load_after'] = os.getloadavg()
    return report
