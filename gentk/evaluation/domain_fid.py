"""Domain FID: the Fréchet distance between Gaussians fitted to features of a
network trained on this domain (e.g. the backbone of a segmentor trained on
the same street scenes), for data where ImageNet Inception features mean
little: semantic masks, synthetic renderings, single-domain photos.

The feature of an image is one vector: the chosen output of the extractor,
global-average-pooled over its spatial positions. Statistics are streamed in
float64 (``frechet.GaussianStats``), so memory is d + d^2 numbers per side
whatever the number of images; the distance is ``frechet.frechet_distance``.
Numbers are comparable only under the same extractor, weights, layer and
preprocessing: they are part of the result.
"""
from typing import Callable, Dict, List, Optional, Sequence, Union

import torch
import torch.nn.functional as F
from torch import nn

from gentk.registry import METRICS, MODELS
from gentk.utils.checkpoint_io import load_weights, state_dict_from
from .frechet import GaussianStats, frechet_distance
from .running_state import RunningStateMetric

FeatureLayer = Union[None, int, str, Callable[[nn.Module, torch.Tensor],
                                              torch.Tensor]]


class _Captured(Exception):
    """Raised by the tap hook to skip the layers after it."""


def build_feature_extractor(extractor: Union[nn.Module, dict, str],
                            checkpoint: Optional[str] = None,
                            checkpoint_prefix: Optional[str] = None,
                            submodule: Optional[str] = None) -> nn.Module:
    """A frozen network in eval mode from a module, a model config dict (built
    from ``MODELS``) or a config file (its ``model``, as ``init_model``
    builds it). ``checkpoint`` is loaded ``weights_only=True``; with
    ``checkpoint_prefix`` (e.g. ``'backbone.'``) only the keys under it, so a
    bare backbone takes its weights from a whole segmentor's checkpoint.
    ``submodule`` (e.g. ``'backbone'``) then picks a part of the model."""
    if isinstance(extractor, str):
        from gentk.apis import init_model  # avoids an import cycle
        if checkpoint_prefix:
            raise ValueError('checkpoint_prefix applies to a module or config '
                             'dict; a config file loads its whole checkpoint')
        model = init_model(extractor, checkpoint)
    else:
        model = extractor if isinstance(extractor, nn.Module) \
            else MODELS.build(extractor)
        if checkpoint is not None:
            model.load_state_dict(state_dict_from(
                load_weights(checkpoint, what='feature extractor checkpoint'),
                checkpoint_prefix))
    if submodule:
        model = model.get_submodule(submodule)
    return model.eval().requires_grad_(False)


def pooled_features(extractor: nn.Module, images: torch.Tensor,
                    feature_layer: FeatureLayer = None) -> torch.Tensor:
    """[N, D] features: the extractor's output chosen by ``feature_layer``,
    averaged over every dimension after the channel one.

    ``feature_layer``: None = the output (the last one if it is a tuple or
    list, as multi-stage backbones return); int = that element of such an
    output; str = the output of that (dotted) submodule, taken with a hook
    and the rest of the forward skipped; callable = ``fn(extractor, images)``.
    """
    if callable(feature_layer):
        out = feature_layer(extractor, images)
    elif isinstance(feature_layer, str):
        captured = []

        def tap(module, inputs, output):
            captured.append(output)
            raise _Captured

        handle = extractor.get_submodule(feature_layer).register_forward_hook(
            tap)
        try:
            extractor(images)
        except _Captured:
            pass
        finally:
            handle.remove()
        if not captured:
            raise RuntimeError(f'feature_layer {feature_layer!r} did not run '
                               'in the forward pass')
        out = captured[0]
    else:
        out = extractor(images)
        if isinstance(out, (tuple, list)):
            out = out[-1 if feature_layer is None else feature_layer]
    if isinstance(out, (tuple, list)):
        out = out[-1]
    if out.dim() < 2:
        raise ValueError(f'features must be at least [N, D], got '
                         f'{tuple(out.shape)}')
    # global average pooling: [N, C, ...] -> [N, C]
    return out.flatten(2).mean(dim=2) if out.dim() > 2 else out


@METRICS.register_module()
class DomainFrechetDistance(RunningStateMetric):
    """Fréchet distance between ``fake_img`` and ``gt_img`` features of a
    network trained here. Reports ``DomainFID/fid``; lower is better.

    Images ([-1, 1]) are, in order: rounded to 8-bit levels (``quantize``,
    as saved samples would be), resized to ``resize`` (h, w) bilinearly if
    given, and normalised with ``mean``/``std`` on the 0..255 scale if given
    (gentk segmentors expect ImageNet's; otherwise the network sees [-1, 1]).

    Args:
        feature_extractor: module, model config dict, or config file.
        checkpoint / checkpoint_prefix / submodule: see
            :func:`build_feature_extractor`.
        feature_layer: which output to pool, see :func:`pooled_features`.
        batch_size: images per network call (bounds activation memory).
        device: where the network runs (default: CPU).

    Example (the backbone of a segmentor trained in gentk)::

        dict(type='DomainFrechetDistance',
             feature_extractor='my_segmentor_config.py',
             checkpoint='work_dirs/my_segmentor/iter_20000.pth',
             submodule='backbone',
             mean=(123.675, 116.28, 103.53), std=(58.395, 57.12, 57.375))
    """

    default_prefix = 'DomainFID'

    def __init__(self, feature_extractor: Union[nn.Module, dict, str],
                 checkpoint: Optional[str] = None,
                 checkpoint_prefix: Optional[str] = None,
                 submodule: Optional[str] = None,
                 feature_layer: FeatureLayer = None,
                 mean: Optional[Sequence[float]] = None,
                 std: Optional[Sequence[float]] = None,
                 resize: Optional[Sequence[int]] = None,
                 quantize: bool = True, batch_size: int = 32,
                 device: str = 'cpu', fake_key: str = 'fake_img',
                 real_key: str = 'gt_img', collect_device: str = 'cpu',
                 prefix: Optional[str] = None):
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.device = torch.device(device)
        self.extractor = build_feature_extractor(
            feature_extractor, checkpoint, checkpoint_prefix,
            submodule).to(self.device)
        self.feature_layer = feature_layer
        if (mean is None) != (std is None):
            raise ValueError('DomainFrechetDistance: give both mean and std, '
                             'or neither')
        self.mean = None if mean is None else torch.tensor(
            mean, dtype=torch.float32).view(1, -1, 1, 1)
        self.std = None if std is None else torch.tensor(
            std, dtype=torch.float32).view(1, -1, 1, 1)
        self.resize = tuple(resize) if resize else None
        self.quantize = quantize
        self.batch_size = batch_size
        self.image_keys = {'fake': fake_key, 'real': real_key}

    def preprocess(self, images: torch.Tensor) -> torch.Tensor:
        images = images.float().clamp(-1, 1)
        if self.quantize:
            images = torch.round((images + 1) * 127.5) / 127.5 - 1
        if self.resize and tuple(images.shape[-2:]) != self.resize:
            images = F.interpolate(images, size=self.resize, mode='bilinear',
                                   align_corners=False)
        if self.mean is not None:
            pixels = (images + 1) * 127.5
            images = (pixels - self.mean.to(images)) / self.std.to(images)
        return images

    @torch.no_grad()
    def features(self, images: torch.Tensor) -> torch.Tensor:
        """[N, D] pooled features on the CPU, ``batch_size`` at a time."""
        return torch.cat([
            pooled_features(self.extractor,
                            self.preprocess(chunk.to(self.device)),
                            self.feature_layer).cpu()
            for chunk in images.split(self.batch_size)])

    def process_samples(self, data_samples: Sequence[dict]) -> None:
        batches = {}
        for side, key in self.image_keys.items():
            images = [s.get(key) for s in data_samples]
            if any(img is None for img in images):
                raise KeyError(f'DomainFrechetDistance needs {key!r} in every '
                               'data sample')
            batches[side] = self.features(torch.stack(images))
        if not self.results:
            # One running state per process; mmengine gathers self.results
            # across ranks and clears it after evaluate.
            dim = batches['fake'].shape[1]
            self.results.append({side: GaussianStats(dim) for side in batches})
        for side, feats in batches.items():
            self.results[0][side].update(feats)

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        fake = GaussianStats.total(r['fake'] for r in results)
        real = GaussianStats.total(r['real'] for r in results)
        return {'fid': frechet_distance(*fake.mean_cov(), *real.mean_cov())}
