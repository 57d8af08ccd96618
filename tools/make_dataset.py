"""Write synthetic street scenes to disk in the Cityscapes layout.

::

    {out}/leftImg8bit/{split}/{city}/{city}_{seq:06d}_000019_leftImg8bit.png
    {out}/gtFine/{split}/{city}/{city}_{seq:06d}_000019_gtFine_labelIds.png
    {out}/gtFine/{split}/{city}/{city}_{seq:06d}_000019_gtFine_instanceIds.png
    {out}/gtFine/{split}/{city}/{city}_{seq:06d}_000019_gtFine_color.png

``CityscapesDataset(data_root=out, split=...)`` reads the result. Split
``train`` holds the samples of ``SyntheticStreetDataset(seed=seed)``, ``val``
those of ``seed + 1`` and ``test`` those of ``seed + 2``, so splits never
overlap and match the in-memory dataset exactly.

Example::

    python tools/make_dataset.py --out data/synthetic_street \\
        --num-train 200 --num-val 50 --height 256 --width 512
"""
import argparse
import os
import os.path as osp
import shutil
import sys
from concurrent.futures import ProcessPoolExecutor
from functools import partial

import cv2
import numpy as np
from rich.progress import Progress

from gentk.apis.cli import run_tool
from gentk.datasets.cityscapes_labels import LABEL_ID_PALETTE
from gentk.datasets.synthetic_streets import render_street_scene, sample_seed

SPLIT_SEED_OFFSET = dict(train=0, val=1, test=2)
#: Cityscapes annotates the 20th frame of each 30-frame snippet.
ANNOTATED_FRAME = 19


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--out', required=True, help='dataset root to write')
    parser.add_argument('--splits', nargs='+', default=['train', 'val'],
                        choices=sorted(SPLIT_SEED_OFFSET))
    parser.add_argument('--num-train', type=int, default=200)
    parser.add_argument('--num-val', type=int, default=50)
    parser.add_argument('--num-test', type=int, default=50)
    parser.add_argument('--height', type=int, default=128)
    parser.add_argument('--width', type=int, default=256)
    parser.add_argument('--seed', type=int, default=0,
                        help='train uses this seed, val seed+1, test seed+2')
    parser.add_argument('--city', default='synth',
                        help='city folder and file name prefix')
    parser.add_argument('--workers', type=int, default=1,
                        help='processes rendering in parallel')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace the city folders of splits that --out '
                             'already holds (otherwise an error: old samples '
                             'would mix with the new ones)')
    args = parser.parse_args(argv)
    if args.height < 1 or args.width < 1:
        parser.error('--height and --width must be positive')
    if args.seed < 0:
        parser.error(f'--seed must be >= 0, got {args.seed}')
    for split in args.splits:
        if getattr(args, f'num_{split}') < 1:
            parser.error(f'--num-{split} must be >= 1 to write split {split}, '
                         f'got {getattr(args, f"num_{split}")}')
    if not args.city.isalnum():
        parser.error('--city must be alphanumeric (Cityscapes splits names on "_")')
    return args


def cityscapes_paths(out: str, split: str, city: str, index: int) -> dict:
    """The four files of one sample, keyed by what they hold."""
    stem = f'{city}_{index:06d}_{ANNOTATED_FRAME:06d}'
    img_dir = osp.join(out, 'leftImg8bit', split, city)
    gt_dir = osp.join(out, 'gtFine', split, city)
    return dict(img=osp.join(img_dir, f'{stem}_leftImg8bit.png'),
                label=osp.join(gt_dir, f'{stem}_gtFine_labelIds.png'),
                inst=osp.join(gt_dir, f'{stem}_gtFine_instanceIds.png'),
                color=osp.join(gt_dir, f'{stem}_gtFine_color.png'))


def write_png(path: str, image: np.ndarray) -> None:
    if not cv2.imwrite(path, image):
        raise OSError(f'could not write {path}')


def write_sample(index: int, out: str, split: str, city: str, seed: int,
                 height: int, width: int) -> None:
    scene = render_street_scene(sample_seed(seed, index), height, width)
    paths = cityscapes_paths(out, split, city, index)
    palette = np.asarray(LABEL_ID_PALETTE, dtype=np.uint8)
    inst = scene['inst']
    if inst.max() > np.iinfo(np.uint16).max:
        raise ValueError(f'instance id {inst.max()} does not fit 16 bits')
    # OpenCV writes BGR; the instance map is 16-bit as in Cityscapes.
    write_png(paths['img'], scene['img'][..., ::-1])
    write_png(paths['label'], scene['label'])
    write_png(paths['inst'], inst.astype(np.uint16))
    write_png(paths['color'], palette[scene['label']][..., ::-1])


def split_folders(out: str, split: str, city: str) -> list:
    return [osp.join(out, folder, split, city)
            for folder in ('leftImg8bit', 'gtFine')]


def check_free(args: argparse.Namespace) -> None:
    """Refuse to write over an earlier run's samples (its larger count or
    other size would stay beside the new ones), unless ``--overwrite``."""
    for split in args.splits:
        for folder in split_folders(args.out, split, args.city):
            if not osp.isdir(folder) or not os.listdir(folder):
                continue
            if not args.overwrite:
                raise FileExistsError(
                    f'{folder} already holds samples; pass --overwrite to '
                    'replace them, or choose another --out or --city')
            shutil.rmtree(folder)


def write_split(args: argparse.Namespace, split: str, progress: Progress) -> None:
    count = getattr(args, f'num_{split}')
    seed = args.seed + SPLIT_SEED_OFFSET[split]
    for folder in split_folders(args.out, split, args.city):
        os.makedirs(folder, exist_ok=True)
    task = progress.add_task(f'{split} ({args.width}x{args.height})', total=count)
    write = partial(write_sample, out=args.out, split=split, city=args.city,
                    seed=seed, height=args.height, width=args.width)
    if args.workers > 1:
        with ProcessPoolExecutor(args.workers) as pool:
            for _ in pool.map(write, range(count), chunksize=4):
                progress.advance(task)
    else:
        for index in range(count):
            write(index)
            progress.advance(task)


def main(argv=None) -> int:
    args = parse_args(argv)
    check_free(args)
    with Progress(transient=not sys.stdout.isatty()) as progress:
        for split in args.splits:
            write_split(args, split, progress)
    print(f'wrote {", ".join(args.splits)} to {args.out} (Cityscapes layout)')
    return 0


if __name__ == '__main__':
    run_tool(main)
