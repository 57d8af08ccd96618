"""GANOptimWrapperConstructor: one optimiser per role, each trainable
parameter in exactly one."""
import pytest
from mmengine.registry import DefaultScope

from gentk.registry import OPTIM_WRAPPER_CONSTRUCTORS
from test_pix2pixhd import tiny_model


def test_every_trainable_parameter_has_exactly_one_optimiser():
    """An encoder left out of the generator's modules would never update;
    a module under two roles would be updated twice."""
    model = tiny_model(encoder=dict(type='InstanceFeatureEncoder', out_channels=3,
                                    base_channels=4, num_downsamples=2))

    def build(generator_modules):
        cfg = dict(generator=dict(optimizer=dict(type='Adam', lr=1e-4),
                                  modules=generator_modules),
                   discriminator=dict(optimizer=dict(type='Adam', lr=1e-4)))
        with DefaultScope.overwrite_default_scope('gentk'):
            return OPTIM_WRAPPER_CONSTRUCTORS.build(
                dict(type='GANOptimWrapperConstructor', optim_wrapper_cfg=cfg))(model)

    roles = build(['generator', 'encoder']).keys()
    assert set(roles) == {'generator', 'discriminator'}
    with pytest.raises(ValueError, match=r"in no optimiser, e\.g\. \['encoder\."):
        build(['generator'])
    with pytest.raises(ValueError, match=r"discriminator.modules "
                                         r"\['discriminator'\] repeats parameters "
                                         r"of optim_wrapper.generator"):
        build(['generator', 'discriminator'])
