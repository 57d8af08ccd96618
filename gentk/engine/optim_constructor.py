"""One optimiser wrapper per role (``generator``, ``discriminator``, ...),
each over the parameters of one or more named submodules."""
import copy
from typing import Optional

from mmengine.model import is_model_wrapper
from mmengine.optim import OptimWrapperDict
from torch import nn

from gentk.registry import OPTIM_WRAPPER_CONSTRUCTORS, OPTIM_WRAPPERS, OPTIMIZERS


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class GANOptimWrapperConstructor:
    """Build an ``OptimWrapperDict`` from ``{role: wrapper config}``.

    Each wrapper config is an mmengine optimiser wrapper config plus an
    optional ``modules`` list: the model attributes whose parameters it
    updates (default: the role's own name). pix2pixHD's feature encoder, for
    example, trains with the generator::

        optim_wrapper = dict(
            constructor='GANOptimWrapperConstructor',
            generator=dict(optimizer=dict(type='Adam', lr=2e-4),
                           modules=['generator', 'encoder']),
            discriminator=dict(optimizer=dict(type='Adam', lr=2e-4)))

    A listed attribute that is ``None`` (an optional network not in use) is
    skipped; a name the model does not have is an error, and so is a
    trainable parameter in no role's modules (it would never update) or in
    two (two optimisers would update it).
    """

    def __init__(self, optim_wrapper_cfg: dict,
                 paramwise_cfg: Optional[dict] = None):
        if paramwise_cfg:
            raise ValueError('GANOptimWrapperConstructor does not support '
                             'paramwise_cfg; give each role its own wrapper.')
        self.optim_wrapper_cfg = optim_wrapper_cfg

    def __call__(self, model: nn.Module) -> OptimWrapperDict:
        if is_model_wrapper(model):
            model = model.module
        wrappers, owners = {}, {}
        for role, cfg in self.optim_wrapper_cfg.items():
            cfg = copy.deepcopy(dict(cfg))
            modules = cfg.pop('modules', [role])
            params = []
            for name in modules:
                if not hasattr(model, name):
                    raise KeyError(
                        f'optim_wrapper.{role}.modules names {name!r}, but '
                        f'{type(model).__name__} has no such submodule')
                module = getattr(model, name)
                if module is not None:
                    params += list(module.parameters())
            for param in params:
                if id(param) in owners:
                    raise ValueError(
                        f'optim_wrapper.{role}.modules {modules} repeats '
                        f'parameters of optim_wrapper.{owners[id(param)]}; '
                        'each parameter needs exactly one optimiser')
                owners[id(param)] = role
            if not params:
                raise ValueError(f'optim_wrapper.{role}: no parameters in '
                                 f'modules {modules}')
            optimizer_cfg = dict(cfg.pop('optimizer'))
            optimizer_cfg['params'] = params
            cfg.setdefault('type', 'OptimWrapper')
            cfg['optimizer'] = OPTIMIZERS.build(optimizer_cfg)
            wrappers[role] = OPTIM_WRAPPERS.build(cfg)
        orphans = [name for name, param in model.named_parameters()
                   if param.requires_grad and id(param) not in owners]
        if orphans:
            raise ValueError(
                f'{len(orphans)} trainable parameters are in no optimiser, '
                f'e.g. {orphans[:3]}: add their module to the modules of an '
                f'optim_wrapper role ({list(self.optim_wrapper_cfg)}), or '
                'freeze them')
        return OptimWrapperDict(**wrappers)
