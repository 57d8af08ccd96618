"""pix2pixHD's weight initialisation."""
from torch import nn

_WEIGHTED_LAYERS = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d,
                    nn.ConvTranspose2d, nn.ConvTranspose3d, nn.Linear)
_NORM_LAYERS = (nn.modules.batchnorm._NormBase, nn.GroupNorm, nn.LayerNorm)


def init_normal_(module: nn.Module, std: float = 0.02) -> nn.Module:
    """Initialise ``module`` and its children in place, pix2pixHD style.

    Convolution, transposed-convolution and linear weights ~ N(0, std), their
    biases 0; affine norm weights ~ N(1, std), their biases 0. Layers without
    parameters (e.g. InstanceNorm with ``affine=False``) are left alone.
    (The paper specifies the weights only; the official code leaves conv
    biases at PyTorch's uniform default. Zero makes the start independent
    of the layer's fan-in, and every bias pix2pixHD has before an instance
    norm is cancelled by it anyway.)

    Returns:
        nn.Module: ``module``, for chaining.
    """
    for layer in module.modules():
        if isinstance(layer, _WEIGHTED_LAYERS):
            nn.init.normal_(layer.weight, 0.0, std)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
        elif isinstance(layer, _NORM_LAYERS):
            if getattr(layer, 'weight', None) is not None:
                nn.init.normal_(layer.weight, 1.0, std)
            if getattr(layer, 'bias', None) is not None:
                nn.init.zeros_(layer.bias)
    return module
