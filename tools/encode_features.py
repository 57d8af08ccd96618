"""Cluster the encoder's instance features per class (pix2pixHD, K = 10).

    python tools/encode_features.py CONFIG CKPT --out clusters.pth [--k 10]

Runs the trained encoder over the training split (its test-time pipeline:
no random flips), takes one feature vector per instance covering more than
``--min-area`` of its image (1/64, as the official code) and runs K-means
per semantic class. ``tools/generate.py --clusters`` samples the centres.
"""
if __name__ == '__main__':
    # Before torch loads: glibc reads its tunables only when a process starts.
    from gentk.huge_pages import restart_with_huge_pages
    restart_with_huge_pages()

import argparse

import torch
from mmengine.dataset import pseudo_collate
from mmengine.registry import DefaultScope
from rich.progress import track

from gentk.apis import init_model
from gentk.apis.cli import run_tool
from gentk.models.encoders.feature_bank import (MIN_AREA, InstanceFeatureBank,
                                                per_instance_features)
from gentk.registry import DATASETS


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--out', required=True, help='cluster file to write')
    parser.add_argument('--k', type=int, default=10, help='clusters per class')
    parser.add_argument('--max-samples', type=int, default=None)
    parser.add_argument('--min-area', type=float, default=MIN_AREA,
                        help='cluster only instances covering more than this '
                        'fraction of their image (default 1/64)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available()
                        else 'cpu')
    return parser.parse_args(argv)


@torch.no_grad()
def main(argv=None):
    args = parse_args(argv)
    model = init_model(args.config, args.checkpoint, args.device)
    if getattr(model, 'encoder', None) is None:
        raise ValueError(f'{args.config} has no feature encoder (model.encoder)')
    cfg = model.cfg
    dataset_cfg = dict(cfg.train_dataloader.dataset)
    dataset_cfg['pipeline'] = cfg.test_dataloader.dataset.pipeline
    with DefaultScope.overwrite_default_scope('gentk'):
        import gentk.datasets  # noqa: F401  (registers the datasets)
        dataset = DATASETS.build(dataset_cfg)
    count = min(len(dataset), args.max_samples or len(dataset))
    vectors, classes = [], []
    for i in track(range(count), description='encode'):
        inputs = model.data_preprocessor(pseudo_collate([dataset[i]]))['inputs']
        features = model.encoder(inputs['img'], inputs['inst'])
        v, c, areas = per_instance_features(features, inputs['inst'])
        keep = areas > args.min_area
        vectors.append(v[keep].cpu())
        classes.append(c[keep].cpu())
    if not sum(len(c) for c in classes):
        raise ValueError(f'no instance covers more than --min-area '
                         f'{args.min_area:g} of its image in {count} images')
    bank = InstanceFeatureBank.fit(torch.cat(vectors), torch.cat(classes),
                                   k=args.k, seed=args.seed)
    bank.save(args.out)
    print(f'{len(bank.centers)} classes, up to {args.k} centres each -> {args.out}')
    return bank


if __name__ == '__main__':
    run_tool(main)
