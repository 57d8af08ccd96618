"""Label maps (and optional instance maps) in, photos out.

    python tools/generate.py CONFIG CKPT LABELS --out OUT_DIR
        [--instances INST_DIR]                  # instance maps, paired by stem
        [--clusters clusters.pth --variants 4]  # sample instance features
        [--photo PHOTO]                         # or encode them from a photo

LABELS and --instances are files or folders (two files make one pair).
In folders, names pair up by sample: ``X_gtFine_labelIds``,
``X_labelIds`` or ``X_label`` with ``X_gtFine_instanceIds``,
``X_instanceIds`` or ``X_inst``, or ``X`` with ``X`` in two folders; one
folder may hold both kinds. The maps
(and --photo) go through the config's test pipeline, as in tools/test.py:
with configs/pix2pixhd/cityscapes_1024.py, 2048x1024 gtFine maps are scaled
to 1024x512, the size the model was trained at, and so are the photos.
"""
if __name__ == '__main__':
    # Before torch loads: glibc reads its tunables only when a process starts.
    from gentk.huge_pages import restart_with_huge_pages
    restart_with_huge_pages()

import argparse
import os
import os.path as osp
from typing import Callable, Dict

import numpy as np
import torch
from mmengine.dataset import Compose
from mmengine.registry import DefaultScope
from rich.progress import track

from gentk.apis import generate, init_model
from gentk.apis.cli import run_tool
from gentk.apis.config import dataset_cfg_of_test
from gentk.datasets.cityscapes_labels import label_id_to_train_id_lut
from gentk.models.encoders.feature_bank import InstanceFeatureBank
from gentk.utils import to_uint8_image, write_png

# The suffixes that mark a file's kind, longest first.
KIND_SUFFIXES = dict(label=('_gtFine_labelIds', '_labelIds', '_label'),
                     inst=('_gtFine_instanceIds', '_instanceIds', '_inst'))
IMAGE_EXTENSIONS = ('.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff')


def split_name(path: str):
    """(sample name, kind): the file's stem less a kind suffix, and
    'label', 'inst' or None."""
    stem = osp.splitext(osp.basename(path))[0]
    for kind, suffixes in KIND_SUFFIXES.items():
        for suffix in suffixes:
            if stem.endswith(suffix):
                return stem[:-len(suffix)], kind
    return stem, None


def list_maps(path: str, kind: str) -> Dict[str, str]:
    """{sample name: file} for a file, or for the ``kind`` maps of a folder
    ('label' or 'inst'): the files with that kind's suffix where there are
    any (so one folder may hold both kinds), else the unsuffixed ones."""
    if osp.isfile(path):
        return {split_name(path)[0]: path}
    if not osp.isdir(path):
        raise FileNotFoundError(f'no such file or folder: {path!r}')
    names = {f: split_name(f) for f in sorted(os.listdir(path))
             if f.lower().endswith(IMAGE_EXTENSIONS)}
    marked = [f for f, (_, k) in names.items() if k == kind]
    files = marked or [f for f, (_, k) in names.items() if k is None]
    if not files:
        raise FileNotFoundError(f'{path!r} holds no {kind} maps')
    maps = {}
    for name in files:
        sample = names[name][0]
        if sample in maps:
            raise ValueError(
                f'{path!r}: {osp.basename(maps[sample])} and {name} are both '
                f'{kind} maps of sample {sample!r}')
        maps[sample] = osp.join(path, name)
    return maps


def map_loader(cfg) -> Callable[..., dict]:
    """``load(label_path, inst_path, img_path) -> inputs`` through the
    config's test pipeline, with the files loaded first: label and instance
    maps get the resizing (and checks) the model was tested with. A
    Cityscapes dataset with ``use_train_ids`` hands ``LoadPairedImages``
    its id table, as the dataset itself does."""
    dataset = dataset_cfg_of_test(cfg)
    steps = [dict(step) for step in dataset.get('pipeline', [])] or [
        dict(type='PackGenInputs')]
    if not any(step.get('type') == 'LoadPairedImages' for step in steps):
        steps.insert(0, dict(type='LoadPairedImages'))
    lut = (label_id_to_train_id_lut().astype(np.int64)
           if dataset.get('use_train_ids') else None)
    import gentk.datasets  # noqa: F401  (registers the transforms)
    with DefaultScope.overwrite_default_scope('gentk'):
        pipeline = Compose(steps)

    def load(label_path, inst_path=None, img_path=None) -> dict:
        return pipeline(dict(label_path=label_path, inst_path=inst_path,
                             img_path=img_path, label_lut=lut))['inputs']
    return load


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Generate photos from label maps.')
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('labels', help='a label map file or a folder of them')
    parser.add_argument('--instances', help='an instance map file or folder')
    parser.add_argument('--out', required=True, help='output folder')
    parser.add_argument('--clusters', help='feature clusters from '
                        'tools/encode_features.py (models with an encoder)')
    parser.add_argument('--variants', type=int, default=1,
                        help='outputs per label map with --clusters')
    parser.add_argument('--photo', help='encode instance features from this photo')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available()
                        else 'cpu')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    model = init_model(args.config, args.checkpoint, args.device)
    uses_features = getattr(model, 'encoder', None) is not None
    if uses_features and not (args.clusters or args.photo):
        raise ValueError('this model encodes instance features: pass --clusters '
                         '(from tools/encode_features.py) or --photo')
    if model.data_preprocessor.use_instance_edges and not args.instances:
        raise ValueError('this model takes instance edges '
                         '(data_preprocessor.use_instance_edges): pass '
                         '--instances with the instance maps')
    labels = list_maps(args.labels, 'label')
    instances = list_maps(args.instances, 'inst') if args.instances else {}
    if osp.isfile(args.labels) and args.instances and osp.isfile(args.instances):
        instances = {name: args.instances for name in labels}  # one pair
    missing = sorted(set(labels) - set(instances)) if instances else []
    if missing:
        raise FileNotFoundError(
            f'no instance map for {missing[:5]} in {args.instances!r}')
    bank = InstanceFeatureBank.load(args.clusters) if args.clusters else None
    load = map_loader(model.cfg)
    rng = torch.Generator().manual_seed(args.seed)
    os.makedirs(args.out, exist_ok=True)
    written = []
    for name, label_path in track(sorted(labels.items()), description='generate'):
        inputs = load(label_path, instances.get(name), args.photo)
        label, inst, photo = (inputs.get(key) for key in ('label', 'inst', 'img'))
        variants = args.variants if bank is not None else 1
        for k in range(variants):
            features = None
            if bank is not None:
                source = inst if inst is not None else label
                features = bank.sample(source[None], generator=rng)
            try:
                fake = generate(model, label, inst, features=features,
                                img=photo)
            except ValueError as err:  # e.g. a label id out of range
                raise ValueError(f'{label_path}: {err}') from err
            suffix = f'_{k}' if variants > 1 else ''
            path = osp.join(args.out, f'{name}{suffix}.png')
            write_png(path, to_uint8_image(fake[0]))
            written.append(path)
    print(f"wrote {len(written)} image{'s' if len(written) != 1 else ''} "
          f'to {args.out}')
    return written


if __name__ == '__main__':
    run_tool(main)
