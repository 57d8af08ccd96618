"""A tiny PSPNet learns two synthetic street scenes through mmengine's
standard single-optimiser train_step."""
import torch
from mmengine.optim import OptimWrapper
from mmengine.registry import DefaultScope

import gentk.models  # noqa: F401
from gentk.datasets.synthetic_streets import SyntheticStreetDataset
from gentk.registry import MODELS

ITERATIONS = 30


def tiny_segmentor():
    with DefaultScope.overwrite_default_scope('gentk'):
        return MODELS.build(dict(
            type='EncoderDecoderSegmentor', num_classes=19,
            backbone=dict(type='ResNetV1c', depth=18, stem_channels=8,
                          base_channels=8),
            decode_head=dict(type='PSPHead', in_index=3, channels=16,
                             dropout_ratio=0.0),
            auxiliary_head=dict(
                type='FCNHead', in_index=2, channels=8, num_convs=1,
                concat_input=False, dropout_ratio=0.0,
                loss=dict(type='SegCrossEntropyLoss', loss_weight=0.4,
                          loss_name='loss_aux'))))


def test_pspnet_overfits_two_scenes_beyond_chance():
    torch.manual_seed(0)
    dataset = SyntheticStreetDataset(num_samples=2, height=48, width=96,
                                     use_train_ids=True, seed=3)
    samples = [dataset[i] for i in range(2)]
    labels = torch.stack([torch.from_numpy(s['gt_label']) for s in samples])
    batch = {'inputs': {
        'img': [torch.from_numpy(s['img']).permute(2, 0, 1).contiguous()
                for s in samples],
        'label': list(labels)}}
    model = tiny_segmentor()
    wrapper = OptimWrapper(torch.optim.Adam(model.parameters(), lr=1e-2))

    history = [model.train_step(batch, wrapper) for _ in range(ITERATIONS)]
    first, last = history[0], history[-1]
    assert set(last) == {'loss', 'loss_ce', 'loss_aux', 'acc_seg'}
    assert last['loss_ce'] < 0.5 * first['loss_ce']
    assert last['loss_aux'] < first['loss_aux']

    # Chance: always answering the most frequent class of these scenes.
    majority = torch.bincount(labels.flatten(), minlength=19).max() / labels.numel()
    model.eval()
    pred = model.val_step(batch)
    correct = sum((s.pred_label == s.gt_label).sum() for s in pred)
    accuracy = float(correct) / labels.numel()
    assert accuracy > float(majority) + 0.2, (accuracy, float(majority))
