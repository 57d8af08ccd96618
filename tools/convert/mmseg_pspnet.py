"""Rewrite an mmsegmentation PSPNet checkpoint as a plain gentk weight file.

gentk's ``EncoderDecoderSegmentor`` uses mmsegmentation's parameter names
(``backbone.*``, ``decode_head.*``, ``auxiliary_head.*``), so no key is
renamed. What this tool fixes is the container: a released file is
``{'state_dict': ..., 'meta': {...}, ['optimizer': ...]}`` and its ``meta``
may hold objects (numpy scalars from older training scripts, ...) that
``torch.load(weights_only=True)`` refuses. The output holds only the tensors
and a plain-text meta, so ``gentk.utils.load_weights`` (and ``load_from``,
``gentk.apis.init_model``) read it safely.

    python tools/convert/mmseg_pspnet.py \
        pspnet_r50-d8_512x1024_80k_cityscapes_20200606_112131-2376f12b.pth \
        checkpoints/pspnet_r50-d8_cityscapes.pth \
        --config configs/pspnet/pspnet_r50-d8_cityscapes_512x1024_80k.py

Loading order: ``weights_only=True``; then ``weights_only=True`` with numpy's
scalar/array reconstructors allow-listed (they rebuild numbers, run no other
code). Anything else is refused, never unpickled: re-save the state dict
where the file was made (``torch.save(ckpt['state_dict'], path)``) and
convert that. ``--config`` checks every key and shape against
the config's model, built on the meta device (no memory).
"""
import argparse
import os.path as osp
import pickle
import sys
from typing import Any, Dict, List, Optional

import numpy as np
import torch

from gentk.utils import atomic_save, state_dict_from


def numpy_globals() -> List[Any]:
    """What pickled numpy scalars and arrays need to be rebuilt, under the
    names numpy 1.x (``numpy.core``) and 2.x (``numpy._core``) write."""
    multiarray = (getattr(np, '_core', None) or np.core).multiarray
    rebuilders = []
    for func in (multiarray.scalar, multiarray._reconstruct):
        rebuilders += [func, (func, f'numpy.core.multiarray.{func.__name__}')]
    dtype_classes = [type(np.dtype(code)) for code in
                     ('b1', 'i1', 'i2', 'i4', 'i8', 'u1', 'u2', 'u4', 'u8',
                      'f2', 'f4', 'f8', 'U')]
    return rebuilders + [np.ndarray, np.dtype] + dtype_classes


def read_checkpoint(path: str) -> Any:
    """The unpickled file, read with ``weights_only=True`` only (see the
    module doc)."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'no such checkpoint: {path!r} (src)')
    try:
        return torch.load(path, map_location='cpu', weights_only=True)
    except pickle.UnpicklingError:  # a global beyond tensors: numpy's?
        pass
    except (RuntimeError, EOFError, OSError) as err:
        raise ValueError(f'{path} is not a readable torch checkpoint '
                         f'({first_line(err)}): is the file complete?') from err
    try:
        with torch.serialization.safe_globals(numpy_globals()):
            return torch.load(path, map_location='cpu', weights_only=True)
    except pickle.UnpicklingError as err:
        # torch's message is long; the line naming the refused global is
        # the useful one.
        lines = str(err).splitlines() or ['']
        reason = next((line.strip() for line in lines
                       if 'Unsupported global' in line), lines[0])
        raise RuntimeError(
            f'{path} holds more than tensors and numpy values, so it is not '
            f'unpickled ({reason}). Re-save its state '
            "dict where it was made (torch.save(ckpt['state_dict'], path)) "
            'and convert that file.') from err


def first_line(err: BaseException) -> str:
    return (str(err).strip().splitlines() or [type(err).__name__])[0]


def plain_meta(meta: Any, source: str) -> Dict[str, Any]:
    """Keep the informative, plain parts of mmsegmentation's meta."""
    meta = meta if isinstance(meta, dict) else {}
    out = {'source': osp.basename(source),
           'converted_by': 'tools/convert/mmseg_pspnet.py'}
    for key in ('CLASSES', 'PALETTE', 'mmseg_version', 'iter', 'epoch'):
        if key in meta:
            out[key.lower()] = np.asarray(meta[key]).tolist() \
                if key == 'PALETTE' else meta[key]
    if isinstance(meta.get('dataset_meta'), dict):  # mmseg 1.x layout
        for key in ('classes', 'palette'):
            if key in meta['dataset_meta']:
                out[key] = np.asarray(meta['dataset_meta'][key]).tolist() \
                    if key == 'palette' else list(meta['dataset_meta'][key])
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in out.items()}


def convert(src: str, dst: str) -> Dict[str, torch.Tensor]:
    """Write ``{'state_dict': tensors, 'meta': plain}`` to ``dst``; return
    the state dict."""
    checkpoint = read_checkpoint(src)
    state = {k: v for k, v in state_dict_from(checkpoint).items()
             if isinstance(v, torch.Tensor)}
    if not state:
        raise ValueError(f'{src} holds no tensors under state_dict')
    meta = checkpoint.get('meta') if isinstance(checkpoint, dict) else None
    atomic_save({'state_dict': state, 'meta': plain_meta(meta, src)}, dst)
    return state


def check_against_config(state: Dict[str, torch.Tensor], config: str) -> List[str]:
    """Problems (missing, unexpected, wrong shape) of ``state`` for the
    config's model; empty when every key and shape fits."""
    from mmengine.config import Config
    from mmengine.registry import DefaultScope

    import gentk.models  # noqa: F401  (registers the models)
    from gentk.registry import MODELS
    with DefaultScope.overwrite_default_scope('gentk'), torch.device('meta'):
        model = MODELS.build(Config.fromfile(config).model)
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    problems = [f'missing: {k}' for k in expected if k not in state]
    problems += [f'unexpected: {k}' for k in state if k not in expected]
    problems += [f'shape of {k}: file {tuple(state[k].shape)}, model {shape}'
                 for k, shape in expected.items()
                 if k in state and tuple(state[k].shape) != shape]
    return problems


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('src', help='mmsegmentation checkpoint (.pth)')
    parser.add_argument('dst', help='output weight file')
    parser.add_argument('--config', help='gentk config whose model the '
                        'weights must fit exactly')
    args = parser.parse_args(argv)
    state = convert(args.src, args.dst)
    print(f'wrote {len(state)} tensors to {args.dst}')
    if args.config:
        problems = check_against_config(state, args.config)
        if problems:
            print(f'{len(problems)} mismatches with {args.config}:',
                  *problems[:20], sep='\n  ')
            return 1
        print(f'every key and shape fits {args.config}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
