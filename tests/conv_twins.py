"""Shared by the convolution route tests: the plain ``nn.Conv2d`` (or
``nn.ConvTranspose2d``) twin of a ``layers.Conv2d`` (``ConvTranspose2d``)
and a second-order gradient to compare them by, and call counters to show
which route's code ran."""
from typing import Any, Callable, Dict, Tuple

import torch
from torch import nn


def twin(conv: nn.Module) -> nn.Module:
    """``nn.Conv2d`` (or ``nn.ConvTranspose2d``) with ``conv``'s
    hyper-parameters and weights."""
    if isinstance(conv, nn.ConvTranspose2d):
        ref = nn.ConvTranspose2d(
            conv.in_channels, conv.out_channels, conv.kernel_size,
            stride=conv.stride, padding=conv.padding,
            output_padding=conv.output_padding, bias=conv.bias is not None)
    else:
        ref = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size,
                        stride=conv.stride, padding=conv.padding,
                        padding_mode=conv.padding_mode,
                        bias=conv.bias is not None)
    ref.load_state_dict(conv.state_dict())
    return ref


def _penalty_weight_grad(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Gradient in ``module.weight`` of a gradient penalty on ``x`` (a
    double backward through the module)."""
    grad_x, = torch.autograd.grad(module(x).square().sum(), [x],
                                  create_graph=True)
    return torch.autograd.grad(grad_x.square().sum(), [module.weight])[0]


def assert_penalty_matches_twin(conv: nn.Conv2d, x: torch.Tensor,
                                **tolerance) -> None:
    """A gradient penalty's weight gradient through ``conv`` equals the one
    through its ``nn.Conv2d`` twin."""
    torch.testing.assert_close(_penalty_weight_grad(conv, x),
                               _penalty_weight_grad(twin(conv), x),
                               **tolerance)


def assert_matches_twin(conv: nn.Module, x: torch.Tensor) -> None:
    """``conv`` and its ``nn`` twin agree on ``x``: output and the
    gradients in ``x``, the weight and the bias (float32 rounding)."""
    ref = twin(conv)
    out, want = conv(x), ref(x)
    torch.testing.assert_close(out, want, rtol=1e-4, atol=1e-5)
    grad = torch.randn_like(out)
    got = torch.autograd.grad(out, [x, conv.weight, conv.bias], grad)
    exp = torch.autograd.grad(want, [x, ref.weight, ref.bias], grad)
    for g, e in zip(got, exp):
        torch.testing.assert_close(g, e, rtol=1e-4, atol=1e-4)


def count_calls(monkeypatch, **targets: Tuple[Any, str]) -> Dict[str, int]:
    """Wrap each function ``getattr(owner, name)`` of ``targets[key] =
    (owner, name)`` so that it counts its calls in ``counts[key]``;
    returns ``counts`` (all 0 to start). A route's values match the native
    convolution's whether or not its own code ran: these counts tell."""
    counts = dict.fromkeys(targets, 0)

    def counting(key: str, function: Callable) -> Callable:
        def wrapper(*args, **kwargs):
            counts[key] += 1
            return function(*args, **kwargs)
        return wrapper

    for key, (owner, name) in targets.items():
        monkeypatch.setattr(owner, name, counting(key, getattr(owner, name)))
    return counts
