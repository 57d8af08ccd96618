"""pix2pixHD (Wang et al., 2018): label map (+ instance edges, + instance
features) to photo with a coarse-to-fine generator and multi-scale
discriminators, trained with LSGAN + discriminator feature matching
(+ optional VGG perceptual loss).
"""
from typing import Dict, Optional

import torch
from mmengine.logging import print_log
from mmengine.optim import OptimWrapper
from torch import nn

from gentk.registry import MODELS
from gentk.utils import load_weights, state_dict_from
from .base_gan import (BaseGAN, ModelCfg, as_in_training, bare, build_module,
                       frozen, takes_argument, with_defaults)


def load_coarsest_scales(discriminator: torch.nn.Module, state: dict,
                         path: str) -> None:
    """Load the per-scale discriminators of ``state`` (a
    ``MultiScaleDiscriminator``'s, from a run at a lower resolution) into
    the coarsest scales of ``discriminator``, so that each sees the
    resolution it was trained on."""
    prefix = 'discriminators.'
    old_scales = sorted({int(k[len(prefix):].split('.')[0]) for k in state
                         if k.startswith(prefix)})
    if not old_scales:
        print_log(f'{path} has no multi-scale discriminator weights: the '
                  f'discriminators keep their initialisation', logger='current')
        return
    scales = getattr(discriminator, 'discriminators', None)
    if scales is None:
        raise TypeError(
            f'{path} holds multi-scale discriminator weights, but the '
            f'discriminator is a {type(discriminator).__name__} (set '
            f'global_discriminator_weights=False to start it afresh)')
    shift = len(scales) - len(old_scales)
    for old in old_scales:
        new = old + shift
        if not 0 <= new < len(scales):
            continue
        scale_state = {k[len(f'{prefix}{old}.'):]: v for k, v in state.items()
                       if k.startswith(f'{prefix}{old}.')}
        try:
            scales[new].load_state_dict(scale_state, strict=True)
        except RuntimeError as err:
            raise RuntimeError(
                f'discriminator scale {old} of {path} does not fit scale '
                f'{new} of this discriminator: {err}') from None


@MODELS.register_module()
class Pix2PixHD(BaseGAN):
    """pix2pixHD on the :class:`BaseGAN` loop, generator step first: as in
    the official code, the generator's adversarial and feature-matching
    losses and the discriminator's update all use the discriminator of
    before this iteration's update, and its pass over the real image is
    shared between the two steps.

    Args:
        generator: ``GlobalGenerator`` or ``LocalEnhancer`` config. Its
            ``in_channels`` default to the preprocessor's condition channels
            (one-hot + edges) plus ``encoder.out_channels`` when encoding, so
            a dataset sets ``num_classes`` in one place. A generator that
            takes ``one_hot_channels`` gets the preprocessor's
            ``num_classes`` there by default: its input starts with the
            one-hot label map.
        discriminator: ``MultiScaleDiscriminator`` config; it sees the
            condition concatenated with an image (``in_channels`` default:
            condition channels + 3; ``one_hot_channels``, where it takes
            the argument, the preprocessor's ``num_classes``).
        data_preprocessor: ``GenDataPreprocessor`` config.
        gan_loss: ``GANLoss`` config (the paper: LSGAN).
        feature_matching_loss: ``FeatureMatchingLoss`` config (lambda = 10).
        perceptual_loss: optional ``PerceptualLoss`` config (VGG19, lambda=10).
        pixel_loss: optional pixel reconstruction loss (pix2pix's L1).
        encoder: optional ``InstanceFeatureEncoder``; trained jointly with G
            through the generator loss.
        freeze_global_iters: for a ``LocalEnhancer``, keep its global
            generator fixed for this many iterations (the paper's staged
            training: local enhancer first, then joint fine-tuning). At the
            switch the enhancers keep their Adam moments and the global
            generator's start from zero (the official code builds a new
            optimiser, resetting both).
        global_generator_weights: a checkpoint of a trained global generator
            (e.g. the 1024x512 stage) loaded into the local enhancer's global
            generator, ``weights_only=True``, by :meth:`init_weights`, which
            the runner calls when training starts: testing or generating
            from a stage-2 checkpoint does not need the file.
        global_discriminator_weights: with ``global_generator_weights``,
            also start the discriminators from that checkpoint's, as the
            official ``--load_pretrain`` does: its scales go to the scales
            that see the same resolution (the coarsest ones; with one
            enhancer, stage-1 scale ``k`` becomes scale ``k + 1``) and the
            new finest scales keep their initialisation. A checkpoint
            without discriminator weights leaves them all initialised.
        generator_first: the official order (see above); False updates the
            discriminator first (needed for ``discriminator_steps > 1``).
    """

    def __init__(self,
                 generator: ModelCfg,
                 discriminator: ModelCfg,
                 gan_loss: ModelCfg,
                 data_preprocessor: ModelCfg,
                 feature_matching_loss: Optional[ModelCfg] = None,
                 perceptual_loss: Optional[ModelCfg] = None,
                 pixel_loss: Optional[ModelCfg] = None,
                 encoder: Optional[ModelCfg] = None,
                 freeze_global_iters: int = 0,
                 global_generator_weights: Optional[str] = None,
                 global_discriminator_weights: bool = True,
                 generator_first: bool = True,
                 **kwargs):
        data_preprocessor = build_module(data_preprocessor)
        encoder = build_module(encoder)
        cond_channels = data_preprocessor.cond_channels
        feature_channels = encoder.out_channels if encoder is not None else 0
        generator = with_defaults(
            generator, in_channels=cond_channels + feature_channels)
        if takes_argument(generator, 'one_hot_channels'):
            generator = with_defaults(
                generator, one_hot_channels=data_preprocessor.num_classes)
        discriminator = with_defaults(discriminator,
                                      in_channels=cond_channels + 3)
        if takes_argument(discriminator, 'one_hot_channels'):
            discriminator = with_defaults(
                discriminator, one_hot_channels=data_preprocessor.num_classes)
        super().__init__(
            generator, discriminator,
            data_preprocessor=data_preprocessor,
            generator_first=generator_first, **kwargs)
        self.encoder = encoder
        self.gan_loss = build_module(gan_loss)
        self.feature_matching_loss = build_module(feature_matching_loss)
        self.perceptual_loss = build_module(perceptual_loss)
        self.pixel_loss = build_module(pixel_loss)
        self.freeze_global_iters = freeze_global_iters
        if freeze_global_iters and not hasattr(bare(self.generator),
                                               'global_generator'):
            raise ValueError('freeze_global_iters needs a generator with a '
                             '`global_generator` (LocalEnhancer), got '
                             f'{type(self.generator).__name__}')
        self.global_generator_weights = global_generator_weights
        self.global_discriminator_weights = global_discriminator_weights

    def init_weights(self) -> None:
        super().init_weights()
        if self.global_generator_weights:
            self.load_global_generator(self.global_generator_weights,
                                       self.global_discriminator_weights)

    def load_global_generator(self, path: str,
                              discriminators: bool = True) -> None:
        """Initialise the local enhancer's global generator from a trained
        global-generator checkpoint (its output head is not used) and, with
        ``discriminators``, the discriminator scales it has."""
        checkpoint = load_weights(
            path, what='global generator (model.global_generator_weights)')
        state = state_dict_from(checkpoint, prefix='generator.')
        state = {k: v for k, v in state.items() if not k.startswith('head.')}
        bare(self.generator).global_generator.load_state_dict(state, strict=True)
        if discriminators and self.discriminator is not None:
            load_coarsest_scales(
                bare(self.discriminator),
                state_dict_from(checkpoint, prefix='discriminator.'), path)

    # ----------------------------------------------------------- conditions
    def generator_input(self, inputs: dict) -> torch.Tensor:
        """One-hot labels (+ edges), plus instance features when encoding."""
        if self.encoder is None:
            return inputs['cond']
        features = inputs.get('features')
        if features is None:
            if 'img' not in inputs or 'inst' not in inputs:
                raise KeyError(
                    'this model encodes instance features: give a photo and '
                    "an instance map ('img', 'inst') or sampled 'features' "
                    '(tools/encode_features.py, tools/generate.py --clusters)')
            features = self.encoder(inputs['img'], inputs['inst'])
        return torch.cat([inputs['cond'], features], dim=1)

    def discriminate(self, cond: torch.Tensor, img: torch.Tensor,
                     discriminator=None):
        return (discriminator or self.discriminator)(torch.cat([cond, img], dim=1))

    # ------------------------------------------------------------- training
    @property
    def global_frozen(self) -> bool:
        return int(self.num_iters) < self.freeze_global_iters

    def generate(self, inputs: dict) -> dict:
        if self.freeze_global_iters:
            # Frozen parameters get no gradient, so Adam leaves them as they
            # are. Under DDP this needs find_unused_parameters=True.
            bare(self.generator).global_generator.requires_grad_(
                not self.global_frozen)
        return {'fake': self.generator(self.generator_input(inputs))}

    def train_discriminator(self, inputs: dict, state: dict,
                            optim_wrapper: OptimWrapper) -> Dict[str, torch.Tensor]:
        with optim_wrapper.optim_context(self.discriminator):
            # Made by the generator step where it came first (same weights).
            if 'pred_real' in state:
                pred_real, pred_fake = state.pop('pred_real'), state.pop('pred_fake')
            else:
                pred_real, pred_fake = self.discriminate_real_and_fake(
                    inputs, state)
            losses = {
                'loss_d_fake': 0.5 * self.gan_loss(pred_fake, False, is_disc=True),
                'loss_d_real': 0.5 * self.gan_loss(pred_real, True, is_disc=True),
            }
        return self.update(losses, optim_wrapper)

    def discriminate_real_and_fake(self, inputs: dict, state: dict):
        """The discriminator's outputs on the real image and on the
        (detached) fake, with graphs for its update: one pass over both as
        one batch where it judges each sample on its own, two passes where
        its batch norms would mix their statistics. 8 ms of ~1 s per
        paper-sized step at 256x128."""
        cond, real, fake = inputs['cond'], inputs['img'], state['fake'].detach()
        if any(isinstance(m, nn.modules.batchnorm._BatchNorm)
               for m in self.discriminator.modules()):
            return self.discriminate(cond, real), self.discriminate(cond, fake)
        both = self.discriminate(torch.cat([cond, cond]), torch.cat([real, fake]))
        size = real.size(0)
        return ([[f[:size] for f in scale] for scale in both],
                [[f[size:] for f in scale] for scale in both])

    def train_generator(self, inputs: dict, state: dict,
                        optim_wrapper: OptimWrapper) -> Dict[str, torch.Tensor]:
        real, fake = inputs['img'], state['fake']
        # The discriminator only passes gradients to the generator here: run
        # it frozen and outside its DDP wrapper (it must not sync).
        discriminator = bare(self.discriminator)
        with optim_wrapper.optim_context(self.generator):
            if self.feature_matching_loss is not None:
                real_features = self.real_features(inputs, state)
            with frozen(discriminator):
                pred_fake = self.discriminate(inputs['cond'], fake, discriminator)
                losses = {self.gan_loss.loss_name: self.gan_loss(pred_fake, True)}
                if self.feature_matching_loss is not None:
                    losses[self.feature_matching_loss.loss_name] = \
                        self.feature_matching_loss(pred_fake, real_features)
                for loss in (self.perceptual_loss, self.pixel_loss):
                    if loss is not None:
                        losses[loss.loss_name] = loss(fake, real)
        return self.update(losses, optim_wrapper)

    def real_features(self, inputs: dict, state: dict) -> list:
        """The discriminator's features of the real image, the targets of
        feature matching, from the weights the fake is judged by. Generator
        first (pix2pixHD), the discriminator step that follows trains on
        this same output: it keeps its graph and goes into ``state``
        (``pred_real``, and ``pred_fake`` of the same pass). Discriminator
        first, it has just been updated: computed again, without a graph."""
        if self.generator_first:
            pred_real, state['pred_fake'] = self.discriminate_real_and_fake(
                inputs, state)
            state['pred_real'] = pred_real
        else:
            with torch.no_grad():
                pred_real = self.discriminate(inputs['cond'], inputs['img'],
                                              bare(self.discriminator))
        return [[f.detach() for f in scale] for scale in pred_real]

    # ------------------------------------------------------------- inference
    @torch.no_grad()
    def sample(self, inputs: dict) -> torch.Tensor:
        return self.sampling_generator(self.generator_input(inputs))


@MODELS.register_module()
class Pix2Pix(Pix2PixHD):
    """pix2pix (Isola et al., 2017), the baseline: U-Net generator, a single
    PatchGAN (a one-scale ``MultiScaleDiscriminator``), vanilla GAN loss and
    L1 (lambda = 100). The step is pix2pixHD's with a pixel loss in place of
    feature matching, in pix2pix's order: the discriminator is updated
    first and the generator step meets the updated one.

    ``test_time_dropout=True`` samples as the pix2pix paper does: "we run
    the generator net in exactly the same manner as during the training
    phase", dropout (its only noise) on and batch norms on the test batch's
    statistics, so samples vary from call to call. False samples in eval
    mode (deterministic, running statistics)."""

    def __init__(self, generator: ModelCfg, discriminator: ModelCfg,
                 gan_loss: ModelCfg, data_preprocessor: ModelCfg,
                 pixel_loss: ModelCfg, generator_first: bool = False,
                 test_time_dropout: bool = True, **kwargs):
        super().__init__(generator, discriminator, gan_loss, data_preprocessor,
                         pixel_loss=pixel_loss,
                         generator_first=generator_first, **kwargs)
        self.test_time_dropout = test_time_dropout

    @torch.no_grad()
    def sample(self, inputs: dict) -> torch.Tensor:
        if not self.test_time_dropout:
            return super().sample(inputs)
        with as_in_training(self.sampling_generator):
            return super().sample(inputs)
