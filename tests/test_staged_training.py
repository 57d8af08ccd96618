"""pix2pixHD's staged training: the local enhancer's stage starts from the
global generator's checkpoint (generator and discriminators) and keeps the
global generator fixed for its first iterations."""
import pytest
import torch
from mmengine.registry import DefaultScope

from gentk.registry import MODELS
from gentk.utils import atomic_save
from test_pix2pixhd import (changed, optim_wrappers, params, scene, tiny_model,
                            tiny_model_cfg)


def test_staged_training_freezes_the_global_generator():
    model = tiny_model(
        generator=dict(type='LocalEnhancer', base_channels=4, num_enhancers=1,
                       num_blocks=1, global_cfg=dict(num_downsamples=2, num_blocks=1)),
        freeze_global_iters=2)
    ow, data = optim_wrappers(model), scene()
    glob, local = model.generator.global_generator, model.generator.enhancers
    g0, l0 = params(glob), params(local)
    for _ in range(2):
        model.train_step(data, ow)
    assert not changed(g0, glob), 'global generator moved while frozen'
    assert changed(l0, local) == set(l0)
    model.train_step(data, ow)
    assert changed(g0, glob) == set(g0), 'global generator stayed frozen'


def test_global_generator_weights_come_from_a_stage_one_checkpoint(tmp_path):
    stage1 = tiny_model(generator=dict(type='GlobalGenerator', base_channels=8,
                                       num_downsamples=2, num_blocks=1))
    path = str(tmp_path / 'stage1.pth')
    atomic_save({'state_dict': stage1.state_dict(), 'meta': {'iter': 3}}, path)
    stage2 = tiny_model(
        generator=dict(type='LocalEnhancer', base_channels=4, num_enhancers=1,
                       num_blocks=1, global_cfg=dict(num_downsamples=2, num_blocks=1)),
        global_generator_weights=path)
    for name, value in stage2.generator.global_generator.state_dict().items():
        assert torch.equal(value, stage1.generator.state_dict()[name]), name


def test_stage_one_file_is_needed_only_to_start_training(tmp_path):
    """Testing or generating from a stage-2 checkpoint builds the model
    without the stage-1 file; training (init_weights) names it."""
    missing = str(tmp_path / 'stage1.pth')
    with DefaultScope.overwrite_default_scope('gentk'):
        model = MODELS.build(tiny_model_cfg(
            generator=dict(type='LocalEnhancer', base_channels=4, num_enhancers=1,
                           num_blocks=1,
                           global_cfg=dict(num_downsamples=2, num_blocks=1)),
            global_generator_weights=missing))
    with pytest.raises(FileNotFoundError,
                       match=r'model\.global_generator_weights\).*stage1\.pth'):
        model.init_weights()


def _local_model(num_scales, base_channels=8, **overrides):
    return tiny_model(
        generator=dict(type='LocalEnhancer', base_channels=4, num_enhancers=1,
                       num_blocks=1, global_cfg=dict(num_downsamples=2, num_blocks=1)),
        discriminator=dict(type='MultiScaleDiscriminator', num_scales=num_scales,
                           base_channels=base_channels, num_layers=2),
        **overrides)


def test_stage_two_discriminators_start_from_stage_one(tmp_path):
    """Stage-1 scale k saw the resolution stage-2 scale k + 1 sees (one
    enhancer doubles the input): it starts there; the new finest scale
    keeps its initialisation."""
    torch.manual_seed(0)
    stage1 = tiny_model()  # two scales
    path = str(tmp_path / 'stage1.pth')
    atomic_save({'state_dict': stage1.state_dict()}, path)
    torch.manual_seed(1)
    fresh = _local_model(3)
    torch.manual_seed(1)
    stage2 = _local_model(3, global_generator_weights=path)
    old, new = stage1.discriminator.discriminators, stage2.discriminator.discriminators
    for k in (0, 1):
        for name, value in new[k + 1].state_dict().items():
            assert torch.equal(value, old[k].state_dict()[name]), (k, name)
    for name, value in new[0].state_dict().items():
        assert torch.equal(value, fresh.discriminator.discriminators[0]
                           .state_dict()[name]), name
    torch.manual_seed(1)
    kept = _local_model(3, global_generator_weights=path,
                        global_discriminator_weights=False)
    for a, b in zip(kept.discriminator.parameters(),
                    fresh.discriminator.parameters()):
        assert torch.equal(a, b)


def test_stage_one_discriminators_must_fit(tmp_path):
    stage1 = tiny_model()
    path = str(tmp_path / 'stage1.pth')
    atomic_save({'state_dict': stage1.state_dict()}, path)
    with pytest.raises(RuntimeError, match='discriminator scale 0 of .*stage1.pth '
                       'does not fit scale 1'):
        _local_model(3, base_channels=4, global_generator_weights=path)
    generator_only = str(tmp_path / 'generator.pth')
    atomic_save({f'generator.{k}': v
                 for k, v in stage1.generator.state_dict().items()},
                generator_only)
    torch.manual_seed(1)
    stage2 = _local_model(3, global_generator_weights=generator_only)
    torch.manual_seed(1)
    fresh = _local_model(3)
    for a, b in zip(stage2.discriminator.parameters(),
                    fresh.discriminator.parameters()):
        assert torch.equal(a, b)


def test_freezing_needs_a_local_enhancer():
    with pytest.raises(ValueError, match='LocalEnhancer'):
        tiny_model(freeze_global_iters=3)
