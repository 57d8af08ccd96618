"""Engine: runner, hooks and the optimiser constructor (registered on import)."""
from .hooks import RandomStateHook, RichProgressHook, SampleGridHook
from .optim_constructor import GANOptimWrapperConstructor
from .runner import GenRunner
from .step_in_backward import StepInBackwardOptimWrapper

__all__ = ['GANOptimWrapperConstructor', 'GenRunner', 'RandomStateHook',
           'RichProgressHook', 'SampleGridHook',
           'StepInBackwardOptimWrapper']
