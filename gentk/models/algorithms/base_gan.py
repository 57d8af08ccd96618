"""The small base every GAN training loop in gentk fits.

One iteration reads top to bottom::

    inputs = preprocess(batch)
    repeat discriminator_steps times:
        state = generate(inputs)          # generator forward (grad kept only
                                          # for the last repeat)
        train_discriminator(inputs, state, optim_wrapper['discriminator'])
    train_generator(inputs, state, optim_wrapper['generator'])
    update the EMA generator (if any)

or, with ``generator_first=True`` (one discriminator step),
``generate``, ``train_generator``, ``train_discriminator``: the
generator is then updated against the discriminator as it was before this
iteration's discriminator update, so every discriminator pass of the
iteration sees the same weights (pix2pixHD's official loop).

``state`` is a plain dict made by :meth:`generate` (``fake`` at least) that
either step may extend, e.g. with the discriminator's output on the real
image, so the other step reuses it instead of computing it again.
Subclasses override ``generate``, ``train_discriminator`` and
``train_generator``; each step ends in its optimiser wrapper's
``update_params``. Extra networks (a segmentor, an encoder, a Q head) are
ordinary submodules with their own optimiser wrapper key.
"""
import inspect
from contextlib import contextmanager
from typing import Dict, List, Optional, Union

import torch
from mmengine.model import BaseModel, ExponentialMovingAverage, is_model_wrapper
from mmengine.optim import OptimWrapper, OptimWrapperDict
from torch import nn

from gentk.models.layers import forget_cached_kernels
from gentk.registry import MODELS
from gentk.structures import GenDataSample

ModelCfg = Union[dict, nn.Module]


def build_module(cfg: Optional[ModelCfg]) -> Optional[nn.Module]:
    """Build a registered module from a config, pass a module through."""
    if cfg is None or isinstance(cfg, nn.Module):
        return cfg
    return MODELS.build(cfg)


def bare(module: Optional[nn.Module]) -> Optional[nn.Module]:
    """The module inside a (distributed) model wrapper, for attribute access
    and for forwards whose gradients no wrapper must synchronise."""
    return module.module if is_model_wrapper(module) else module


def with_defaults(cfg: Optional[ModelCfg], **defaults) -> Optional[ModelCfg]:
    """A copy of config ``cfg`` with ``defaults`` for keys it does not set;
    modules and None pass through."""
    if not isinstance(cfg, dict):
        return cfg
    return {**defaults, **cfg}


def takes_argument(cfg: Optional[ModelCfg], name: str) -> bool:
    """Whether the class config ``cfg`` builds names ``name`` among its
    parameters (a ``**kwargs`` catch-all does not count)."""
    if not isinstance(cfg, dict):
        return False
    cls = cfg.get('type')
    if isinstance(cls, str):
        cls = MODELS.get(cls)
    return (inspect.isclass(cls)
            and name in inspect.signature(cls).parameters)


@contextmanager
def frozen(module: Optional[nn.Module]):
    """Parameters of ``module`` get no gradient inside the block.

    Used for the discriminator during the generator step: its weight gradients
    would be wasted work and would leak into its next update.
    """
    if module is None:
        yield
        return
    params = [p for p in module.parameters() if p.requires_grad]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p in params:
            p.requires_grad_(True)


@contextmanager
def as_in_training(module: nn.Module):
    """Run ``module`` inside the block as it runs in training (dropout
    active, batch norms on the batch's own statistics) without changing
    its state: running statistics and their counters stay as they are."""
    modes = [(m, m.training) for m in module.modules()]
    norms = [(m, m.track_running_stats) for m in module.modules()
             if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    module.train()
    for norm, _ in norms:
        norm.track_running_stats = False
    try:
        yield
    finally:
        for norm, tracked in norms:
            norm.track_running_stats = tracked
        for m, training in modes:
            m.training = training


class BaseGAN(BaseModel):
    """Generator + discriminator trained by alternating steps.

    Args:
        generator: config or module of the generator.
        discriminator: config or module of the discriminator (None for
            inference-only use).
        data_preprocessor: config of the data preprocessor.
        discriminator_steps: discriminator updates per generator update
            (SCGAN's n_critic).
        ema_momentum: if set, keep an exponential moving average of the
            generator (``generator_ema``) used for sampling. mmengine's
            convention: the weight of the *new* value, ``avg = (1 - m) *
            avg + m * generator`` (e.g. 1e-3, i.e. a 0.999 decay). Buffers
            (batch-norm statistics) are copied, not averaged.
        generator_first: run the generator step before the discriminator
            step, both against the discriminator of before the iteration
            (see the module docstring); needs ``discriminator_steps=1``.
    """

    def __init__(self,
                 generator: ModelCfg,
                 discriminator: Optional[ModelCfg] = None,
                 data_preprocessor: Optional[ModelCfg] = None,
                 discriminator_steps: int = 1,
                 ema_momentum: Optional[float] = None,
                 generator_first: bool = False,
                 init_cfg: Optional[dict] = None):
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if discriminator_steps < 1:
            raise ValueError(
                f'discriminator_steps must be >= 1, got {discriminator_steps}')
        if generator_first and discriminator_steps != 1:
            raise ValueError(
                f'generator_first=True updates the generator first, against '
                f'one discriminator step per iteration: discriminator_steps '
                f'must be 1, got {discriminator_steps} (or set '
                f'generator_first=False)')
        self.generator_first = generator_first
        self.generator = build_module(generator)
        self.discriminator = build_module(discriminator)
        self.discriminator_steps = discriminator_steps
        self.generator_ema = (
            ExponentialMovingAverage(bare(self.generator), momentum=ema_momentum)
            if ema_momentum else None)
        # Counts finished iterations; saved with the weights so that staged
        # schedules (e.g. a frozen global generator) survive a resume.
        self.register_buffer('num_iters', torch.zeros((), dtype=torch.long))

    # ------------------------------------------------------------- training
    def train_step(self, data: dict,
                   optim_wrapper: OptimWrapperDict) -> Dict[str, torch.Tensor]:
        inputs = self.data_preprocessor(data, True)['inputs']
        log_vars = {}
        for repeat in range(self.discriminator_steps):
            keep_graph = repeat == self.discriminator_steps - 1
            with optim_wrapper['generator'].optim_context(self.generator), \
                    torch.set_grad_enabled(keep_graph):
                state = self.generate(inputs)
            if self.generator_first:  # (one repeat only)
                log_vars.update(self.train_generator(
                    inputs, state, optim_wrapper['generator']))
            log_vars.update(self.train_discriminator(
                inputs, state, optim_wrapper['discriminator']))
        if not self.generator_first:
            log_vars.update(self.train_generator(
                inputs, state, optim_wrapper['generator']))
        if self.generator_ema is not None:
            self.generator_ema.update_parameters(bare(self.generator))
            # The average moves through `.data`, unseen by the kernel caches.
            forget_cached_kernels(self.generator_ema)
        self.num_iters += 1
        return log_vars

    def generate(self, inputs: dict) -> dict:
        """Generator forward for one step: returns at least ``{'fake': ...}``."""
        raise NotImplementedError

    def train_discriminator(self, inputs: dict, state: dict,
                            optim_wrapper: OptimWrapper) -> Dict[str, torch.Tensor]:
        raise NotImplementedError

    def train_generator(self, inputs: dict, state: dict,
                        optim_wrapper: OptimWrapper) -> Dict[str, torch.Tensor]:
        raise NotImplementedError

    def update(self, losses: Dict[str, torch.Tensor],
               optim_wrapper: OptimWrapper) -> Dict[str, torch.Tensor]:
        """Sum the ``loss_*`` terms, step the wrapper, return the terms for
        logging (the total is left out: D and G totals would share a key)."""
        loss, log_vars = self.parse_losses(losses)
        optim_wrapper.update_params(loss)
        log_vars.pop('loss')
        return {k: v.detach() for k, v in log_vars.items()}

    # ------------------------------------------------------------- inference
    @property
    def sampling_generator(self) -> nn.Module:
        """The generator used for sampling: the EMA copy when there is one."""
        return self.generator_ema.module if self.generator_ema else self.generator

    @torch.no_grad()
    def sample(self, inputs: dict) -> torch.Tensor:
        """Images in [-1, 1] for preprocessed ``inputs``."""
        raise NotImplementedError

    def forward(self, inputs: dict, data_samples: Optional[List] = None,
                mode: str = 'tensor'):
        if mode == 'tensor':
            return self.sample(inputs)
        if mode == 'predict':
            return self.to_data_samples(inputs, self.sample(inputs), data_samples)
        raise ValueError(
            f"{type(self).__name__}.forward supports mode 'tensor' or "
            f"'predict', got {mode!r}; training goes through train_step.")

    @staticmethod
    def to_data_samples(inputs: dict, fake: torch.Tensor,
                        data_samples: Optional[List]) -> List[GenDataSample]:
        """One GenDataSample per image with ``fake_img`` (and ``gt_img``,
        ``gt_label`` where known), images as float [3,H,W] in [-1, 1]."""
        samples = data_samples or [GenDataSample() for _ in range(len(fake))]
        for i, sample in enumerate(samples):
            sample.fake_img = fake[i]
            sample.gt_label = inputs['label'][i]
            if 'img' in inputs:
                sample.gt_img = inputs['img'][i]
        return samples
