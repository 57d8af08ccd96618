"""Load a trained model and generate photos from label maps, in Python.

    model = init_model('configs/pix2pixhd/synthetic_256x128.py', 'iter_2000.pth')
    photos = generate(model, label)            # label: [H,W] or [B,H,W] ids
"""
from typing import Optional

import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

from gentk.plugins import load_plugins
from gentk.registry import MODELS
from gentk.utils import load_weights, state_dict_from, weights_needed_to_generate


def init_model(config, checkpoint: Optional[str] = None, device: str = 'cpu',
               cfg_options: Optional[dict] = None) -> torch.nn.Module:
    """Build the config's model, load ``checkpoint`` (``weights_only=True``)
    and put it in eval mode on ``device``. The checkpoint must hold exactly
    the weights that sampling uses (a discriminator's and the loss
    networks' may be absent or extra)."""
    load_plugins()
    cfg = config if isinstance(config, Config) else Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    import gentk.models  # noqa: F401  (registers the models)
    with DefaultScope.overwrite_default_scope('gentk'):
        model = MODELS.build(cfg.model)
    if checkpoint is not None:
        state = state_dict_from(load_weights(checkpoint, what='model checkpoint'))
        missing, unexpected = model.load_state_dict(state, strict=False)
        # Loss networks and discriminators may differ; what samples may not
        # (a deeper segmenter's extra layers would be dropped silently).
        for problem, keys in (('missing', missing), ('unexpected', unexpected)):
            keys = weights_needed_to_generate(keys)
            if keys:
                raise KeyError(f'{checkpoint!r} does not fit {config!r}: '
                               f'{problem} {len(keys)} weights, e.g. {keys[:3]}')
    model.cfg = cfg
    return model.to(device).eval()


@torch.no_grad()
def generate(model, label: torch.Tensor, inst: Optional[torch.Tensor] = None,
             features: Optional[torch.Tensor] = None,
             img: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Photos in [-1, 1], [B,3,H,W], for label maps ``label`` ([H,W] or
    [B,H,W] integer ids), with optional instance maps ``inst``, instance
    features ``features`` [B,C,H,W] (e.g. sampled cluster centres) or a photo
    ``img`` (uint8 [B,3,H,W]) for the encoder to take the features from."""
    def batched(t):
        return t if t is None or t.dim() >= 3 else t[None]
    inputs = {'label': batched(label)}
    if inst is not None:
        inputs['inst'] = batched(inst)
    if img is not None:
        inputs['img'] = img if img.dim() == 4 else img[None]
    data = model.data_preprocessor({'inputs': inputs}, False)['inputs']
    if features is not None:
        data['features'] = features.to(data['cond'])
    return model.sample(data)
