"""The generated / oracle / floor protocol with a stand-in segmenter that
reads classes off colours, so every score is known in advance."""
import pytest
import torch
from mmengine.model import BaseModel

from gentk.evaluation import GeneratedSegmentationScores, SpatialConsistencyAccuracy
from gentk.registry import MODELS

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


def test_missing_segmenter_weights_are_a_clear_error(tmp_path, segmenter_files):
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        GeneratedSegmentationScores(segmenter_files[0], str(tmp_path / 'nope.pth'))
