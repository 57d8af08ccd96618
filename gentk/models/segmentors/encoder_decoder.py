"""A backbone, a decode head and an optional auxiliary head: PSPNet and its
kin, trained with one optimiser by mmengine's standard ``train_step``."""
from typing import Dict, List, Optional

import torch
import torch.nn.functional as F
from mmengine.model import BaseModel
from torch import Tensor

from gentk.registry import MODELS
from gentk.structures import GenDataSample
from ..algorithms.base_gan import ModelCfg, bare, build_module, with_defaults
from .decode_head import resize_logits


def pixel_accuracy(logits: Tensor, label: Tensor, ignore_index: Optional[int]
                   ) -> Tensor:
    """Fraction of labelled pixels whose argmax is right (0 if none are)."""
    pred = resize_logits(logits.detach(), label.shape[-2:]).argmax(dim=1)
    valid = (label != ignore_index) if ignore_index is not None \
        else torch.ones_like(label, dtype=torch.bool)
    correct = ((pred == label) & valid).sum()
    return correct.float() / valid.sum().clamp_min(1)


@MODELS.register_module()
class EncoderDecoderSegmentor(BaseModel):
    """Semantic segmentor: ``backbone -> decode_head (+ auxiliary_head)``.

    State-dict keys are ``backbone.*``, ``decode_head.*``,
    ``auxiliary_head.*``, mmsegmentation's ``EncoderDecoder`` layout, so its
    PSPNet checkpoints load with :func:`gentk.utils.load_weights` (see
    ``tools/convert/mmseg_pspnet.py``).

    Modes of :meth:`forward`:

    * ``'loss'``: ``loss_ce`` (decode head) and ``loss_aux`` (auxiliary
      head, 0.4 in PSPNet) plus ``acc_seg`` (pixel accuracy, logged only);
    * ``'predict'``: one :class:`GenDataSample` per image with
      ``pred_label`` (int64 [H, W]), ``seg_logits`` (float [C, H, W], if
      ``predict_logits``) and ``gt_label`` when the batch has labels;
    * ``'tensor'``: logits [B, C, H, W] at the input size.

    For evaluation code holding photos rather than packed samples, see
    :meth:`segment` and :meth:`segment_logits`.

    Args:
        backbone: backbone config (e.g. ``ResNetV1c``); it must expose
            ``out_channels`` (one per returned feature map).
        decode_head: head config (e.g. ``PSPHead``). ``in_channels``
            defaults to the backbone's channels at its ``in_index`` and
            ``num_classes`` to this model's.
        num_classes: number of classes (set once here, not in each head).
        auxiliary_head: optional head trained alongside (e.g. ``FCNHead``);
            ignored at inference.
        data_preprocessor: ``SegDataPreprocessor`` config.
        align_corners: of the bilinear resizes of logits, in training (the
            heads' losses) and inference alike; None takes the decode
            head's (mmsegmentation's convention). Given here, it is the
            heads' default, and a decode head set otherwise is an error.
        inference_scale: at inference (``'predict'``, ``'tensor'``,
            :meth:`segment`), photos are first resized by this factor
            (bilinear) and the logits come back at the input size. Thin
            objects gain resolution at output stride 8; train with random
            up-scaling to match (the CPU config: 2.0). Training ignores it.
        predict_logits: keep full-size logits in predicted data samples
            (C x H x W floats per image; turn off for large images).
    """

    def __init__(self,
                 backbone: ModelCfg,
                 decode_head: ModelCfg,
                 num_classes: int,
                 auxiliary_head: Optional[ModelCfg] = None,
                 data_preprocessor: Optional[ModelCfg] = dict(
                     type='SegDataPreprocessor'),
                 align_corners: Optional[bool] = None,
                 inference_scale: float = 1.0,
                 predict_logits: bool = True,
                 init_cfg: Optional[dict] = None):
        super().__init__(data_preprocessor=build_module(data_preprocessor),
                         init_cfg=init_cfg)
        self.backbone = build_module(backbone)
        self.num_classes = num_classes
        self.decode_head = build_module(self._head_defaults(decode_head,
                                                            align_corners))
        self.auxiliary_head = build_module(self._head_defaults(auxiliary_head,
                                                               align_corners))
        if inference_scale <= 0:
            raise ValueError(f'inference_scale must be positive, got {inference_scale}')
        head_value = getattr(self.decode_head, 'align_corners', None)
        if align_corners is None:
            align_corners = bool(head_value)
        elif head_value is not None and head_value != align_corners:
            raise ValueError(
                f'align_corners={align_corners} but the decode head has '
                f'align_corners={head_value}: training (the head\'s loss) and '
                'inference would resize logits differently; set it in one place')
        self.align_corners = align_corners
        self.inference_scale = float(inference_scale)
        self.predict_logits = predict_logits

    def _head_defaults(self, head: Optional[ModelCfg],
                       align_corners: Optional[bool]) -> Optional[ModelCfg]:
        if not isinstance(head, dict):
            return head
        channels = dict(zip(range(len(self.backbone.out_channels)),
                            self.backbone.out_channels))
        index = head.get('in_index', -1) % len(self.backbone.out_channels)
        defaults = dict(in_channels=channels[index], num_classes=self.num_classes)
        if align_corners is not None:
            defaults['align_corners'] = align_corners
        return with_defaults(head, **defaults)

    # ------------------------------------------------------------ network
    def encode_decode(self, img: Tensor) -> Tensor:
        """Normalised photos [B,3,H,W] -> logits [B,C,H,W] at the input size
        (bilinear upsampling of the decode head's 1/8-size scores), seen at
        ``inference_scale`` times the input size."""
        size = img.shape[-2:]
        if self.inference_scale != 1.0:
            img = F.interpolate(img, scale_factor=self.inference_scale,
                                mode='bilinear', align_corners=self.align_corners)
        logits = self.decode_head(self.backbone(img))
        return resize_logits(logits, size, self.align_corners)

    def forward(self, inputs: dict, data_samples: Optional[List] = None,
                mode: str = 'tensor'):
        if mode == 'loss':
            return self.loss(inputs)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self.encode_decode(inputs['img'])
        raise ValueError(f"{type(self).__name__}.forward: mode must be "
                         f"'loss', 'predict' or 'tensor', got {mode!r}")

    def loss(self, inputs: dict) -> Dict[str, Tensor]:
        """Losses of the preprocessed batch (``img`` and ``label``)."""
        if 'label' not in inputs:
            raise KeyError('training a segmentor needs labels: the packed '
                           "samples have no inputs['label']")
        label = inputs['label']
        # Forwards go through any (distributed) wrapper; attribute access
        # (.loss, .ignore_index) through the bare heads.
        decode_head, auxiliary_head = bare(self.decode_head), bare(self.auxiliary_head)
        features = self.backbone(inputs['img'])
        logits = self.decode_head(features)
        losses = decode_head.loss(logits, label)
        losses['acc_seg'] = pixel_accuracy(logits, label,
                                           decode_head.ignore_index)
        if auxiliary_head is not None:
            aux = auxiliary_head.loss(self.auxiliary_head(features), label)
            clash = set(aux) & set(losses)
            if clash:
                raise KeyError(f'auxiliary loss name(s) {sorted(clash)} clash '
                               "with the decode head's; set its loss_name, "
                               "e.g. 'loss_aux'")
            losses.update(aux)
        return losses

    def parse_losses(self, losses: Dict[str, Tensor]):
        """mmengine's sum of the ``loss*`` terms; the logged values come
        back detached (as BaseGAN's do), so hooks hold no graph."""
        loss, log_vars = super().parse_losses(losses)
        return loss, {k: v.detach() for k, v in log_vars.items()}

    @torch.no_grad()
    def predict(self, inputs: dict,
                data_samples: Optional[List] = None) -> List[GenDataSample]:
        logits = self.encode_decode(inputs['img'])
        pred = logits.argmax(dim=1)
        samples = data_samples or [GenDataSample() for _ in range(len(pred))]
        for i, sample in enumerate(samples):
            sample.pred_label = pred[i]
            if self.predict_logits:
                sample.seg_logits = logits[i]
            if 'label' in inputs:
                sample.gt_label = inputs['label'][i]
        return samples

    # ------------------------------------------------- photos from elsewhere
    def segment_logits(self, images: Tensor) -> Tensor:
        """Logits [B, C, H, W] at the input size for raw photos (keeps the
        graph, so a generator can be trained through it).

        ``images`` [B, 3, H, W] RGB: uint8 means the 0..255 scale; a float
        tensor must be in [-1, 1] (gentk's image convention, what generators
        output and ``GenDataPreprocessor`` makes). Float photos on another
        scale: convert them first (e.g. ``x / 127.5 - 1`` for 0..255). The
        model's train/eval mode is left as it is: call ``eval()`` for
        inference (batch-norm statistics, dropout).
        """
        if images.dim() != 4 or images.shape[1] != 3:
            raise ValueError('segment: images must be [B, 3, H, W] RGB, got '
                             f'shape {tuple(images.shape)}')
        if images.dtype == torch.uint8:
            img = self.data_preprocessor.normalize(images)
        elif images.is_floating_point():
            low, high = (float(v) for v in images.detach().aminmax())
            if low < -1.01 or high > 1.01:
                raise ValueError(
                    f'segment: float images must be in [-1, 1], got values '
                    f'in [{low:.3g}, {high:.3g}]; pass uint8 for 0..255 photos')
            img = self.data_preprocessor.from_minus1_1(images)
        else:
            raise TypeError('segment: images must be uint8 (0..255) or float '
                            f'in [-1, 1], got {images.dtype}')
        return self.encode_decode(img)

    @torch.no_grad()
    def segment(self, images: Tensor) -> Tensor:
        """Class ids int64 [B, H, W] for raw photos; input convention as in
        :meth:`segment_logits` (uint8 0..255 or float in [-1, 1])."""
        return self.segment_logits(images).argmax(dim=1)
