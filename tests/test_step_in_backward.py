"""StepInBackwardOptimWrapper: OptimWrapper's update, with large parameters
stepped during the backward."""
import copy

import pytest
import torch
from mmengine.optim import OptimWrapper

from gentk.engine import StepInBackwardOptimWrapper
from test_pix2pixhd import optim_wrappers, scene, tiny_model


def mlp():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(8, 64), torch.nn.ReLU(),
                               torch.nn.Linear(64, 32), torch.nn.Linear(32, 1))


def adam(net, groups=1):
    """Adam over ``net``; ``groups=2``: the last layer in a group of its own
    (another learning rate)."""
    params = list(net.parameters())
    if groups == 2:
        params = [dict(params=params[:-2]), dict(params=params[-2:], lr=1e-3)]
    return torch.optim.Adam(params, lr=1e-2, betas=(0.5, 0.999))


def train(net, wrapper, steps=4):
    x = torch.randn(16, 8, generator=torch.Generator().manual_seed(1))
    for _ in range(steps):
        wrapper.update_params(net(x).square().mean())


@pytest.mark.parametrize('groups', [1, 2])
def test_same_weights_and_optimiser_state_as_optim_wrapper(groups):
    net, twin = mlp(), mlp()
    plain = OptimWrapper(adam(net, groups))
    early = StepInBackwardOptimWrapper(adam(twin, groups), min_numel=100)
    train(net, plain)
    train(twin, early)
    for p, q in zip(net.parameters(), twin.parameters()):
        assert torch.equal(p, q)
        state, twin_state = plain.optimizer.state[p], early.optimizer.state[q]
        assert state.keys() == twin_state.keys()
        for key in state:
            assert torch.equal(state[key], twin_state[key])
    assert all(p.grad is None for p in twin.parameters())


def test_large_parameters_step_during_the_backward():
    """Seen from inside the backward, when the first layer's gradient
    arrives: the middle layer's weight (2048 elements, >= min_numel) has
    already moved, the last layer's (32) waits for the step after the
    backward."""
    net = mlp()
    wrapper = StepInBackwardOptimWrapper(adam(net), min_numel=1000)
    middle, last = net[2].weight, net[3].weight
    before = {'middle': middle.detach().clone(), 'last': last.detach().clone()}
    moved = {}

    def record(grad):
        moved.update(middle=not torch.equal(middle, before['middle']),
                     last=not torch.equal(last, before['last']))
    net[0].weight.register_hook(record)
    train(net, wrapper, steps=1)
    assert moved == {'middle': True, 'last': False}
    assert not torch.equal(last, before['last'])  # stepped after the backward


@pytest.mark.parametrize('kwargs', [dict(accumulative_counts=2),
                                    dict(clip_grad=dict(max_norm=0.1))])
def test_accumulation_and_clipping_step_after_the_backward(kwargs):
    """Both need every gradient before the step: the wrapper then behaves
    as OptimWrapper, with the same result."""
    net, twin = mlp(), mlp()
    plain = OptimWrapper(adam(net), **copy.deepcopy(kwargs))
    early = StepInBackwardOptimWrapper(adam(twin), min_numel=1,
                                       **copy.deepcopy(kwargs))
    assert not early.steps_in_backward
    train(net, plain)
    train(twin, early)
    for p, q in zip(net.parameters(), twin.parameters()):
        assert torch.equal(p, q)


def test_backward_outside_update_params_leaves_gradients():
    """A plain backward (e.g. a user's own loop) only accumulates."""
    net = mlp()
    wrapper = StepInBackwardOptimWrapper(adam(net), min_numel=1)
    before = [p.detach().clone() for p in net.parameters()]
    wrapper.backward(net(torch.randn(4, 8)).sum())
    assert all(p.grad is not None for p in net.parameters())
    assert all(torch.equal(p, b) for p, b in zip(net.parameters(), before))


def test_pix2pixhd_trains_as_with_optim_wrapper():
    """A pix2pixHD iteration (generator step first, the discriminator's
    pass over the real image shared between the steps) ends with the same
    weights either way."""
    data = scene()
    model = tiny_model()
    twin = copy.deepcopy(model)
    plain = optim_wrappers(model)
    early = type(plain)(**{
        role: StepInBackwardOptimWrapper(wrapper.optimizer, min_numel=256)
        for role, wrapper in optim_wrappers(twin).items()})
    for _ in range(3):
        model.train_step(data, plain)
        twin.train_step(data, early)
    for (name, p), q in zip(model.named_parameters(), twin.parameters()):
        assert torch.allclose(p, q, rtol=0, atol=1e-6), name


def test_min_numel_must_be_positive():
    with pytest.raises(ValueError, match='min_numel must be >= 1, got 0'):
        StepInBackwardOptimWrapper(adam(mlp()), min_numel=0)
