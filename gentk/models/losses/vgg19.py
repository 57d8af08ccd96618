"""A frozen VGG19 feature extractor for perceptual losses.

The convolution trunk is built with the same module indices as torchvision's
``vgg19().features`` (conv 3x3 + ReLU per channel entry, max-pool per 'M'),
so a torchvision ``vgg19`` state_dict (``features.0.weight`` ...
``features.34.bias``) loads without key remapping. torchvision itself is not
used.

The trunk's weights stay out of ``state_dict()``: they come from
``weights_path`` whenever the extractor is built, so a model holding a
perceptual loss does not write ~80 MB of fixed ImageNet weights into every
checkpoint. Loading a state dict without them keeps the trunk as loaded;
one with them (older checkpoints) still loads.
"""
from typing import List, Mapping, Optional, Sequence

from torch import Tensor, nn

from gentk.registry import MODELS
from gentk.utils import load_weights, state_dict_from

# VGG19 ("configuration E"): output channels of each 3x3 conv, 'M' = 2x2 pool.
VGG19_CHANNEL_PLAN = (64, 64, 'M', 128, 128, 'M', 256, 256, 256, 256, 'M',
                      512, 512, 512, 512, 'M', 512, 512, 512, 512, 'M')

# Length of torchvision's vgg19().features: conv + ReLU per conv, one per pool.
VGG19_NUM_MODULES = sum(1 if entry == 'M' else 2 for entry in VGG19_CHANNEL_PLAN)

# Module indices in ``features`` of relu1_1, relu2_1, relu3_1, relu4_1, relu5_1.
RELU_X_1_INDICES = (1, 6, 11, 20, 29)


def build_vgg19_features(num_modules: Optional[int] = None) -> nn.Sequential:
    """VGG19's ``features`` with torchvision's module indices, keeping the
    first ``num_modules`` modules (all 37 when None)."""
    layers: List[nn.Module] = []
    in_channels = 3
    for entry in VGG19_CHANNEL_PLAN:
        if entry == 'M':
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            layers.append(nn.Conv2d(in_channels, entry, kernel_size=3, padding=1))
            # Not in place: a tapped conv output must not be overwritten.
            layers.append(nn.ReLU(inplace=False))
            in_channels = entry
    if num_modules is not None:
        layers = layers[:num_modules]
    return nn.Sequential(*layers)


@MODELS.register_module()
class VGG19FeatureExtractor(nn.Module):
    """Frozen VGG19 trunk returning the activations at ``layer_indices``.

    The trunk is cut after the deepest requested module. Parameters never
    require grad and the module stays in eval mode even when a parent calls
    ``.train()``. Gradients still flow through it to the input.

    Args:
        layer_indices: indices into torchvision's ``vgg19().features`` whose
            outputs are returned, in increasing order (default: relu1_1,
            relu2_1, relu3_1, relu4_1, relu5_1).
        weights_path: a torchvision-layout ``vgg19`` state_dict (classifier
            keys are ignored), loaded with ``weights_only=True``. None keeps
            random weights (tests only).
    """

    def __init__(self, layer_indices: Sequence[int] = RELU_X_1_INDICES,
                 weights_path: Optional[str] = None):
        super().__init__()
        indices = tuple(int(i) for i in layer_indices)
        if not indices or list(indices) != sorted(set(indices)) \
                or indices[0] < 0 or indices[-1] >= VGG19_NUM_MODULES:
            raise ValueError(
                'layer_indices must be increasing, unique indices in '
                f'[0, {VGG19_NUM_MODULES}), got {layer_indices!r}')
        self.layer_indices = indices
        self.features = build_vgg19_features(indices[-1] + 1)
        if weights_path is not None:
            self.load_torchvision_state_dict(state_dict_from(
                load_weights(weights_path, what='VGG19 weights')))
        self.requires_grad_(False)
        self.train(False)
        self.register_state_dict_post_hook(self._drop_trunk_keys)
        self.register_load_state_dict_pre_hook(self._keep_absent_trunk_keys)

    @staticmethod
    def _drop_trunk_keys(module: nn.Module, state_dict: dict, prefix: str,
                         local_metadata: dict) -> None:
        """``state_dict`` post-hook: leave the fixed trunk out."""
        for key in [key for key in state_dict if key.startswith(prefix)]:
            del state_dict[key]

    @staticmethod
    def _keep_absent_trunk_keys(module: nn.Module, state_dict: dict,
                                prefix: str, *args) -> None:
        """``load_state_dict`` pre-hook: a state dict without the trunk (as
        ``state_dict()`` writes it) keeps the weights loaded at build time
        instead of reporting them missing."""
        trunk = module.features.state_dict(prefix=f'{prefix}features.',
                                           keep_vars=True)
        for key, value in trunk.items():
            state_dict.setdefault(key, value)

    def load_torchvision_state_dict(self, state_dict: Mapping[str, Tensor]) -> None:
        """Copy the ``features.*`` entries this trunk holds from a torchvision
        ``vgg19`` state_dict; deeper layers and the classifier are ignored."""
        own = self.features.state_dict(prefix='features.')
        missing = [key for key in own if key not in state_dict]
        if missing:
            raise KeyError(
                f'VGG19 weights lack {len(missing)} key(s) in torchvision\'s '
                f'vgg19 layout, e.g. {missing[:3]}; got keys such as '
                f'{list(state_dict)[:3]}')
        wrong_shapes = [
            f'{key}: expected {tuple(own[key].shape)}, '
            f'got {tuple(state_dict[key].shape)}'
            for key in own if state_dict[key].shape != own[key].shape]
        if wrong_shapes:
            raise ValueError(
                'VGG19 weights do not match torchvision\'s vgg19 layout: '
                + '; '.join(wrong_shapes[:3]))
        self.load_state_dict({key: state_dict[key] for key in own})

    def train(self, mode: bool = True) -> 'VGG19FeatureExtractor':
        # A fixed loss network: always in eval mode, whatever the parent asks.
        return super().train(False)

    def forward(self, x: Tensor) -> List[Tensor]:
        outputs = []
        wanted = iter(self.layer_indices)
        next_index = next(wanted)
        for index, module in enumerate(self.features):
            x = module(x)
            if index == next_index:
                outputs.append(x)
                next_index = next(wanted, None)
        return outputs
