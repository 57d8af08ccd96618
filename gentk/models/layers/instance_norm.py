"""Instance normalisation that keeps its input's memory layout.

``nn.InstanceNorm2d`` makes its input contiguous and views it as one
``[1, N * C, H, W]`` batch: a channels-last activation is copied to NCHW on
the way in and comes out NCHW, so every later convolution loses the
channels-last kernels (and pays the copy); and its backward returns a wrong
input gradient when the incoming gradient is channels-last and the input
is not (torch 2.13; the tests check every layout pair here). Per-sample,
per-channel statistics without running averages are also what two other
kernels compute, both layout-preserving:

* ``F.batch_norm`` in training mode for a batch of one (statistics over
  ``H x W`` of each channel): the fastest on channels-last input, and for a
  larger channels-last batch, one sample at a time (a batch of two 512 x
  18 x 34 maps, forward + backward on two threads: 1.9 ms, against 8.6 ms
  for ``group_norm``, whose channels-last kernel is slow);
* ``F.group_norm`` with one group per channel: the fastest on NCHW input
  (two threads, 64 x 256 x 512 forward + backward: 24 ms vs 30 ms for
  ``instance_norm``).
"""
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .layout import is_channels_last


class InstanceNorm2d(nn.InstanceNorm2d):
    """``nn.InstanceNorm2d`` (same arguments, parameters and state dict)
    whose output has the input's memory format. With
    ``track_running_stats=True`` it is ``nn.InstanceNorm2d``'s own forward."""

    def forward(self, x: Tensor) -> Tensor:
        if self.track_running_stats or x.dim() != 4:
            return super().forward(x)
        if x.size(1) != self.num_features:
            raise ValueError(f'InstanceNorm2d({self.num_features}) got an input '
                             f'with {x.size(1)} channels (shape '
                             f'{tuple(x.shape)})')
        if x.size(2) * x.size(3) == 1:
            # As nn.InstanceNorm2d: one pixel has no statistics (the
            # kernels below would return the bias, whatever the input).
            raise ValueError(f'InstanceNorm2d needs more than one spatial '
                             f'element per channel, got shape {tuple(x.shape)} '
                             '(the input is too small for this network)')
        if is_channels_last(x):
            # Each sample's slice is a channels-last batch of one.
            samples = [F.batch_norm(sample, None, None, self.weight, self.bias,
                                    True, 0.0, self.eps)
                       for sample in x.split(1)]
            return samples[0] if len(samples) == 1 else torch.cat(samples)
        return F.group_norm(x, x.size(1), self.weight, self.bias, self.eps)
