"""Scoring generated photos with a fixed segmenter (pix2pixHD's protocol).

Generated photos are segmented and scored against the label maps they were
generated from. Two more rows come from the same pass:

* **oracle**: the real photos, segmented the same way (an upper bound);
* **floor**: each generated photo scored against the label of the
  previous sample *processed by the same process* (the first photo of a
  process against its last label): what a generator that ignores its input
  would get. With W processes and mmengine's default sampler (process r
  takes samples r, r+W, ...) photo i meets the label of sample i-W.

The protocol (segmenter, weights, resolution, interpolation, ignore index,
class set) is part of the result: published reproductions of these numbers
disagree by 10 points or more when it is left unsaid.
"""
import hashlib
import os.path as osp
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn.functional as F
from mmengine.dist import get_world_size
from mmengine.evaluator import BaseMetric

from gentk.datasets.cityscapes_labels import (TRAIN_ID_NAMES,
                                              label_id_to_train_id_lut)
from gentk.models.segmentors.decode_head import resize_logits
from gentk.registry import METRICS
from gentk.utils.label_ids import ids_outside
from .segmentation_metrics import confusion_matrix, scores_from_confusion

ROWS = ('generated', 'oracle', 'floor')


def file_digest(path: str, length: int = 12) -> str:
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            digest.update(chunk)
    return digest.hexdigest()[:length]


@METRICS.register_module()
class GeneratedSegmentationScores(BaseMetric):
    """mIoU and pixel accuracy of generated photos under a fixed segmenter,
    with oracle and floor rows.

    Args:
        segmentor_config: config file of the segmenter (e.g. a PSPNet).
        segmentor_weights: its checkpoint (loaded ``weights_only=True``).
        num_classes: classes scored (19 Cityscapes train ids by default).
        label_ids_to_train_ids: map Cityscapes label ids (the generator's
            input) to train ids before scoring, as the official scripts do.
        ignore_index: label value not scored.
        segmentor_input_size: (h, w) the photos are resized to (bilinear)
            before segmenting; None = the label's resolution.
        class_names: names for the per-class IoU, one per class (default:
            the Cityscapes train-id names for 19 classes, ``class{i}``
            otherwise).
        device: where the segmenter runs; None = CUDA when
            ``torch.cuda.is_available()``, else the CPU.

    A segmenter with a ``num_classes`` attribute must predict exactly
    ``num_classes`` classes (ValueError otherwise).
    """

    default_prefix = 'segscore'

    def __init__(self, segmentor_config: str, segmentor_weights: str,
                 num_classes: int = 19, label_ids_to_train_ids: bool = True,
                 ignore_index: int = 255,
                 segmentor_input_size: Optional[Sequence[int]] = None,
                 class_names: Optional[Sequence[str]] = None,
                 device: Optional[str] = None, **kwargs):
        super().__init__(**kwargs)
        from gentk.apis import init_model   # avoids an import cycle
        if device is None:
            device = 'cuda' if torch.cuda.is_available() else 'cpu'
        if not osp.isfile(segmentor_weights):
            raise FileNotFoundError(
                f'segmenter weights not found: {segmentor_weights!r} '
                '(segmentor_weights; tools/test.py --segmentor CONFIG '
                'CHECKPOINT). gentk never downloads weights.')
        self.segmentor = init_model(segmentor_config, segmentor_weights,
                                    device=device)
        self._check_classes(segmentor_config, num_classes,
                            label_ids_to_train_ids)
        self.segmentor_config = segmentor_config
        self.segmentor_weights = segmentor_weights
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        self.lut = (torch.from_numpy(label_id_to_train_id_lut()).long()
                    if label_ids_to_train_ids else None)
        self.segmentor_input_size = segmentor_input_size
        if class_names is None:  # Cityscapes' names only for its 19 classes
            class_names = (TRAIN_ID_NAMES if num_classes == len(TRAIN_ID_NAMES)
                           else [f'class{i}' for i in range(num_classes)])
        if len(class_names) != num_classes:
            raise ValueError(f'{len(class_names)} class_names for '
                             f'num_classes={num_classes}')
        self.class_names = tuple(class_names)
        self._first = None        # (row, prediction) waiting for the last label
        self._previous_label = None

    def _check_classes(self, config: str, num_classes: int,
                       train_ids: bool) -> None:
        # Predictions past num_classes would fail in confusion_matrix
        # mid-run; fewer classes would score silently but wrongly.
        own = getattr(self.segmentor, 'num_classes', None)
        if own is None or own == num_classes:
            return
        hint = (' The default maps Cityscapes label ids to the 19 train ids '
                '(label_ids_to_train_ids=True); for other classes set '
                f'label_ids_to_train_ids=False and num_classes={own} (in '
                'tools/test.py: --segmentor-options num_classes='
                f'{own} label_ids_to_train_ids=False).'
                if train_ids else f' Set num_classes={own} if it is right.')
        raise ValueError(
            f'segmenter {config!r} predicts {own} classes but the metric '
            f'scores num_classes={num_classes}.' + hint)

    # -------------------------------------------------------------- protocol
    def protocol(self) -> Dict[str, object]:
        return {
            'segmenter': osp.basename(self.segmentor_config),
            'weights': f'{self.segmentor_weights} '
                       f'(sha256 {file_digest(self.segmentor_weights)})',
            'segmenter input': ('label resolution' if self.segmentor_input_size
                                is None else
                                'resized to {}x{} (bilinear)'.format(
                                    *self.segmentor_input_size[::-1])),
            'scored at': 'label resolution; logits resized bilinearly, '
                         'then the argmax',
            'classes': f'{self.num_classes} '
                       + ('Cityscapes train ids (label ids mapped as the '
                          'official scripts do)' if self.lut is not None
                          else 'label values as given'),
            'ignore index': self.ignore_index,
            'floor': self.floor_protocol(),
        }

    @staticmethod
    def floor_protocol() -> str:
        # Each process pairs its own consecutive samples, which the default
        # sampler deals out W apart.
        world = get_world_size()
        if world == 1:
            return ('generated photo i scored against the label of sample '
                    'i-1 (1 process; photo 0 against the last label)')
        return (f'generated photo i scored against the label of sample '
                f'i-{world} ({world} processes: each process pairs its own '
                'samples, its first photo against its last label)')

    # ------------------------------------------------------------- streaming
    def labels_for_scoring(self, label: torch.Tensor) -> torch.Tensor:
        label = label.long()
        if self.lut is not None:
            in_range = (label >= 0) & (label < len(self.lut))
            label = torch.where(in_range,
                                self.lut.to(label.device)[label.clamp(0, 255)],
                                torch.full_like(label, self.ignore_index))
        # Ids outside the classes would be left out silently: with
        # Cityscapes label ids (0..33) scored as 19 train ids, most pixels.
        ids = ids_outside(label, self.num_classes, self.ignore_index)[:8]
        if ids:
            hint = (' Cityscapes label ids need label_ids_to_train_ids=True.'
                    if self.lut is None else '')
            raise ValueError(
                f'{type(self).__name__}: label ids {ids} are not among the '
                f'num_classes={self.num_classes} classes scored (ignore index '
                f'{self.ignore_index}).' + hint)
        return label

    @torch.no_grad()
    def segment(self, img: torch.Tensor, size) -> torch.Tensor:
        """Predictions [B,H,W] at ``size`` for photos in [-1, 1]."""
        device = next(self.segmentor.parameters()).device
        img = img.to(device)
        if self.segmentor_input_size is not None:
            img = F.interpolate(img, size=tuple(self.segmentor_input_size),
                                mode='bilinear', align_corners=False)
        if hasattr(self.segmentor, 'segment_logits'):
            # As mmsegmentation does: logits to the label's size, then the
            # argmax (resampling class ids would pick one neighbour's class).
            logits = resize_logits(
                self.segmentor.segment_logits(img), tuple(size),
                getattr(self.segmentor, 'align_corners', False))
            return logits.argmax(dim=1).cpu()
        pred = self.segmentor.segment(img)   # class ids only
        if tuple(pred.shape[-2:]) != tuple(size):
            pred = F.interpolate(pred[:, None].float(), size=tuple(size),
                                 mode='nearest-exact')[:, 0].long()
        return pred.cpu()

    def cm(self, pred, label):
        return confusion_matrix(pred, label, self.num_classes, self.ignore_index)

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            label = self.labels_for_scoring(sample['gt_label']).cpu()
            size = label.shape[-2:]
            fake = self.segment(sample['fake_img'][None], size)[0]
            row = {'generated': self.cm(fake, label)}
            if 'gt_img' in sample:
                row['oracle'] = self.cm(self.segment(sample['gt_img'][None], size)[0],
                                        label)
            if self._previous_label is None:
                self._first = (len(self.results), fake)
            else:
                row['floor'] = self.cm(fake, self.match(self._previous_label, size))
            self._previous_label = label
            self.results.append(row)

    @staticmethod
    def match(label: torch.Tensor, size) -> torch.Tensor:
        if tuple(label.shape[-2:]) == tuple(size):
            return label
        return F.interpolate(label[None, None].float(), size=tuple(size),
                             mode='nearest-exact')[0, 0].long()

    def evaluate(self, size: int) -> dict:
        # Close the cycle: the first photo against the last label. It goes
        # into the first sample's row (mmengine keeps `size` rows).
        if self._first is not None:
            index, first = self._first
            self.results[index]['floor'] = self.cm(
                first, self.match(self._previous_label, first.shape[-2:]))
        self._first = self._previous_label = None
        return super().evaluate(size)

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        out = {}
        for row in ROWS:
            matrices = [r[row] for r in results if row in r]
            if not matrices:
                continue
            scores = scores_from_confusion(torch.stack(matrices).sum(0))
            out[f'{row}/mIoU'] = scores['mIoU']
            out[f'{row}/aAcc'] = scores['aAcc']
            if row == 'generated':
                for name, iou in zip(self.class_names, scores['IoU']):
                    out[f'generated/IoU.{name}'] = iou
        return out


@METRICS.register_module()
class SpatialConsistencyAccuracy(GeneratedSegmentationScores):
    """SCGAN's spatial consistency (section 5.8): pixel accuracy of the
    segmenter's argmax on generated images against the input segmentation,
    with its ceiling (real images) and floor (shuffled pairs).

    Same arguments as :class:`GeneratedSegmentationScores`; by default the
    labels are scored as given (no Cityscapes id mapping).
    """

    default_prefix = 'spatial'

    def __init__(self, *args, label_ids_to_train_ids: bool = False, **kwargs):
        super().__init__(*args, label_ids_to_train_ids=label_ids_to_train_ids,
                         **kwargs)

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        scores = super().compute_metrics(results)
        names = {'generated': 'accuracy', 'oracle': 'ceiling', 'floor': 'floor'}
        return {names[row]: scores[f'{row}/aAcc'] for row in ROWS
                if f'{row}/aAcc' in scores}
