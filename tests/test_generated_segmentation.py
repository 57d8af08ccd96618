"""The generated / oracle / floor protocol with a stand-in segmenter that
reads classes off colours, so every score is known in advance."""
import pytest
import torch
import torch.nn.functional as F
from mmengine.model import BaseModel

from gentk.evaluation import GeneratedSegmentationScores, SpatialConsistencyAccuracy
from gentk.registry import MODELS
from tiny_pspnet import model_from_config

COLOURS = torch.tensor([[-1.0, -1.0, -1.0], [1.0, -1.0, -1.0], [-1.0, 1.0, -1.0]])


@MODELS.register_module(force=True)
class NearestColourSegmenter(BaseModel):
    """Class = index of the nearest colour in COLOURS."""

    def __init__(self):
        super().__init__()
        self.scale = torch.nn.Parameter(torch.ones(()))

    def forward(self, inputs, data_samples=None, mode='tensor'):
        return self.segment(inputs)

    def segment(self, img):
        dist = ((img[:, None] - COLOURS[None, :, :, None, None]) ** 2).sum(2)
        return dist.argmin(1)


def paint(label):
    return COLOURS[label].permute(2, 0, 1)


@pytest.fixture
def segmenter_files(tmp_path):
    config = tmp_path / 'seg.py'
    config.write_text("model = dict(type='NearestColourSegmenter')\n")
    weights = tmp_path / 'seg.pth'
    torch.save(NearestColourSegmenter().state_dict(), weights)
    return str(config), str(weights)


def samples():
    a = torch.zeros(4, 4, dtype=torch.long)
    a[:, 2:] = 1
    b = torch.zeros(4, 4, dtype=torch.long)
    b[2:, :] = 2
    b[0, 0] = 255                         # ignored pixel
    out = []
    for label in (a, b):
        clean = label.clamp(max=2)
        out.append({'gt_label': label, 'gt_img': paint(clean),
                    'fake_img': paint(clean)})
    return out


def test_perfect_generator_reaches_the_oracle_and_floor_is_lower(segmenter_files):
    metric = GeneratedSegmentationScores(*segmenter_files, num_classes=3,
                                         label_ids_to_train_ids=False,
                                         class_names=('k', 'r', 'g'))
    metric.process(None, samples())
    scores = metric.evaluate(2)
    assert scores['segscore/generated/mIoU'] == 1.0
    assert scores['segscore/oracle/aAcc'] == 1.0
    # floor, by hand: photo a against label b: 15 scored pixels, right where
    # both are class 0 (rows 0-1, cols 0-1, less the ignored pixel) -> 3.
    # Photo b (its ignored pixel painted class 2) against label a: 16 pixels,
    # right where both are 0 -> 4 less (0, 0) -> 3.
    assert scores['segscore/floor/aAcc'] == pytest.approx(6 / 31)
    assert scores['segscore/floor/mIoU'] < scores['segscore/generated/mIoU']
    protocol = metric.protocol()
    assert protocol['ignore index'] == 255 and 'sha256' in protocol['weights']
    assert protocol['floor'] == ('generated photo i scored against the label '
                                 'of sample i-1 (1 process; photo 0 against '
                                 'the last label)')


def test_floor_protocol_names_the_process_count(segmenter_files, monkeypatch):
    """Each process pairs its own samples, which the default sampler deals
    out W apart: with 4 processes photo i meets the label of sample i-4."""
    import gentk.evaluation.generated_segmentation as module
    monkeypatch.setattr(module, 'get_world_size', lambda: 4)
    floor = GeneratedSegmentationScores(*segmenter_files).protocol()['floor']
    assert 'sample i-4 (4 processes' in floor
    assert 'each process pairs its own samples' in floor


def test_label_ids_are_mapped_to_train_ids(segmenter_files):
    metric = GeneratedSegmentationScores(*segmenter_files)
    label = torch.tensor([[7, 26, 0, 33]])     # road, car, unlabeled, bicycle
    assert metric.labels_for_scoring(label).tolist() == [[0, 13, 255, 18]]


def test_spatial_consistency_reports_accuracy_ceiling_floor(segmenter_files):
    metric = SpatialConsistencyAccuracy(*segmenter_files, num_classes=3)
    data = samples()
    data[0]['fake_img'] = paint(torch.zeros(4, 4, dtype=torch.long))  # all class 0
    metric.process(None, data)
    scores = metric.evaluate(2)
    assert scores['spatial/ceiling'] == 1.0
    # photo a now all class 0: right on 8 of a's 16 pixels; photo b perfect (15)
    assert scores['spatial/accuracy'] == pytest.approx((8 + 15) / 31)
    assert scores['spatial/floor'] < scores['spatial/ceiling']


def test_labels_outside_the_scored_classes_are_an_error(segmenter_files):
    """Cityscapes label ids scored as 19 train ids without the mapping
    would leave most pixels out of the score, silently."""
    metric = SpatialConsistencyAccuracy(*segmenter_files, num_classes=3)
    label = torch.tensor([[0, 2, 255, 7, 26]])
    with pytest.raises(ValueError, match=r'label ids \[7, 26\] are not among '
                       r'the num_classes=3 .*label_ids_to_train_ids=True'):
        metric.labels_for_scoring(label)


def test_missing_segmenter_weights_are_a_clear_error(tmp_path, segmenter_files):
    with pytest.raises(FileNotFoundError,
                       match="segmenter weights not found: '.*nope.pth'"):
        GeneratedSegmentationScores(segmenter_files[0], str(tmp_path / 'nope.pth'))


def tiny_segmenter_files(tmp_path, num_classes):
    """Config and weights of a tiny PSPNet (the real segmenter class, which
    has a ``num_classes`` attribute) predicting ``num_classes`` classes."""
    config = tmp_path / f'psp{num_classes}.py'
    config.write_text(
        f"model = dict(type='EncoderDecoderSegmentor', num_classes={num_classes},"
        " backbone=dict(type='ResNetV1c', depth=18, stem_channels=8,"
        " base_channels=8), decode_head=dict(type='PSPHead', in_index=3,"
        " channels=16))\n")
    weights = tmp_path / f'psp{num_classes}.pth'
    torch.save(model_from_config(str(config), 'cpu').state_dict(), weights)
    return str(config), str(weights)


def test_segmenter_with_other_classes_is_an_error(tmp_path):
    """A 19-class segmenter under a 3-class metric would predict ids the
    metric does not score; a 7-class one under the Cityscapes default would
    score silently against the wrong classes."""
    config, weights = tiny_segmenter_files(tmp_path, 19)
    with pytest.raises(ValueError) as err:
        GeneratedSegmentationScores(config, weights, num_classes=3,
                                    label_ids_to_train_ids=False)
    message = str(err.value)
    assert config in message and '19 classes' in message
    assert 'num_classes=3' in message
    config, weights = tiny_segmenter_files(tmp_path, 7)
    with pytest.raises(ValueError) as err:
        GeneratedSegmentationScores(config, weights)
    message = str(err.value)
    assert config in message and '7 classes' in message
    assert 'num_classes=19' in message and 'label_ids_to_train_ids' in message


def test_matching_segmenter_scores_and_rejects_foreign_predictions(tmp_path):
    config, weights = tiny_segmenter_files(tmp_path, 19)
    metric = GeneratedSegmentationScores(config, weights, device='cpu')
    label = torch.full((1, 16, 16), 7, dtype=torch.long)   # road -> 0
    metric.process(None, [{'gt_label': label[0],
                           'fake_img': torch.zeros(3, 16, 16)}])
    assert len(metric.results) == 1
    # predictions past the class range stop the run (they are not clamped)
    with pytest.raises(ValueError, match=r'\[19\].*num_classes=19'):
        metric.cm(torch.full((4, 4), 19), torch.zeros(4, 4, dtype=torch.long))


def test_segmenter_device(segmenter_files, monkeypatch):
    """None picks CUDA when available, else the CPU; a given device is used
    as is ('meta' here, as no GPU is needed to see it honoured)."""
    import gentk.apis
    metric = GeneratedSegmentationScores(*segmenter_files, device='cpu')
    assert all(p.device.type == 'cpu' for p in metric.segmentor.parameters())
    metric = GeneratedSegmentationScores(*segmenter_files, device='meta')
    assert all(p.device.type == 'meta' for p in metric.segmentor.parameters())
    devices, init_model = [], gentk.apis.init_model

    def recording_init_model(config, checkpoint, device='cpu'):
        devices.append(device)
        return init_model(config, checkpoint)
    monkeypatch.setattr(gentk.apis, 'init_model', recording_init_model)
    for available in (True, False):
        monkeypatch.setattr(torch.cuda, 'is_available', lambda: available)
        GeneratedSegmentationScores(*segmenter_files)
    assert devices == ['cuda', 'cpu']


class LabelOracle(torch.nn.Module):
    """A perfect segmenter: one-hot logits of ``label`` at the size of the
    photo it is shown (the label resampled at the photo's pixel centres)."""

    align_corners = False

    def __init__(self, label):
        super().__init__()
        self.label = label
        self.anchor = torch.nn.Parameter(torch.zeros(1))

    def segment_logits(self, img):
        label = F.interpolate(self.label[None, None].float(),
                              size=img.shape[-2:], mode='nearest-exact')
        return F.one_hot(label[0].long(), 3).permute(0, 3, 1, 2).float()

    def segment(self, img):
        return self.segment_logits(img).argmax(1)


def test_predictions_at_another_size_come_back_centred():
    """Segmented at 1.2x the label's size, a perfect segmenter's
    predictions meet the label again: the logits are resized to the label
    (bilinear) before the argmax, not the class ids (torch's 'nearest' is
    off-centre at such ratios)."""
    label = (torch.arange(80) // 4 % 3).expand(40, 80).contiguous()
    metric = object.__new__(GeneratedSegmentationScores)
    metric.segmentor, metric.segmentor_input_size = LabelOracle(label), (48, 96)
    pred = metric.segment(torch.zeros(1, 3, 40, 80), (40, 80))[0]
    assert (pred == label).float().mean() > 0.99


def test_class_names_follow_the_number_of_classes(segmenter_files):
    metric = GeneratedSegmentationScores(*segmenter_files, num_classes=3,
                                         label_ids_to_train_ids=False)
    assert metric.class_names == ('class0', 'class1', 'class2')
    with pytest.raises(ValueError, match='2 class_names for num_classes=3'):
        GeneratedSegmentationScores(*segmenter_files, num_classes=3,
                                    label_ids_to_train_ids=False,
                                    class_names=('a', 'b'))
