"""PSPNet weight files (round trip, init_model, the mmsegmentation
converter), its data transform and its configs."""
import argparse
import os
import sys

import numpy as np
import pytest
import torch
from mmengine.config import Config

from gentk.apis import init_model
from gentk.datasets.transforms import PairedRandomResize
from gentk.utils import load_weights, state_dict_from
from tiny_pspnet import (R18_SYNTHETIC, R50_CITYSCAPES, REPO, build,
                         tiny_pspnet)


# ------------------------------------------------------------ weight files
def test_state_dict_round_trip_through_load_weights(tmp_path):
    model = tiny_pspnet().eval()
    for module in model.modules():      # non-trivial running statistics
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-1, 1)
            module.running_var.uniform_(0.5, 2)
    path = str(tmp_path / 'pspnet.pth')
    torch.save({'state_dict': model.state_dict(),
                'meta': {'CLASSES': ['road'] * 19, 'iter': 80000}}, path)
    state = state_dict_from(load_weights(path))
    assert not any(k.startswith('data_preprocessor') for k in state)
    fresh = tiny_pspnet().eval()
    fresh.load_state_dict(state, strict=True)
    img = torch.randint(0, 256, (1, 3, 40, 72), dtype=torch.uint8)
    assert torch.equal(fresh.segment_logits(img), model.segment_logits(img))


def test_init_model_loads_a_checkpoint_of_the_cpu_config(tmp_path):
    cfg = Config.fromfile(R18_SYNTHETIC)
    model = build(cfg.model).eval()
    path = str(tmp_path / 'seg.pth')
    torch.save({'state_dict': model.state_dict()}, path)
    loaded = init_model(cfg, path)
    img = torch.rand(1, 3, 32, 64) * 2 - 1
    assert torch.equal(loaded.segment(img), model.segment(img))
    # A deeper network's extra layers are refused, not dropped.
    deeper = dict(model.state_dict())
    deeper['backbone.layer3.2.conv1.weight'] = torch.zeros(256, 256, 1, 1)
    torch.save({'state_dict': deeper}, path)
    with pytest.raises(KeyError, match=r'unexpected 1 weights.*layer3\.2'):
        init_model(cfg, path)


def test_converter_rewrites_numpy_meta_and_checks_the_config(tmp_path):
    sys.path.insert(0, os.path.join(REPO, 'tools', 'convert'))
    try:
        import mmseg_pspnet
    finally:
        sys.path.pop(0)
    cfg = Config.fromfile(R18_SYNTHETIC)
    state = build(cfg.model).state_dict()
    src, dst = str(tmp_path / 'mmseg.pth'), str(tmp_path / 'plain.pth')
    # What older training scripts left in meta: numpy scalars and arrays.
    torch.save({'state_dict': state, 'optimizer': {'state': {}},
                'meta': {'seed': np.int64(0), 'PALETTE': np.zeros((19, 3), np.uint8),
                         'CLASSES': ('road',) * 19,
                         'hook_msgs': {'best_score': np.float64(0.7)}}}, src)
    with pytest.raises(ValueError, match='weights_only=True'):
        load_weights(src)
    assert mmseg_pspnet.main([src, dst, '--config', R18_SYNTHETIC]) == 0
    plain = load_weights(dst)
    assert set(plain['state_dict']) == set(state)
    assert plain['meta']['palette'] == [[0, 0, 0]] * 19
    # Other objects are refused, never unpickled.
    odd = str(tmp_path / 'odd.pth')
    torch.save({'state_dict': state, 'meta': {'args': argparse.Namespace()}},
               odd)
    with pytest.raises(RuntimeError, match=r'odd\.pth .*Namespace.*Re-save'):
        mmseg_pspnet.main([odd, str(tmp_path / 'never.pth')])
    assert not os.path.exists(tmp_path / 'never.pth')
    # A missing file is named; a truncated one is not taken for a pickle
    # problem.
    with pytest.raises(FileNotFoundError, match=r"no such checkpoint: .*nope\.pth"):
        mmseg_pspnet.main([str(tmp_path / 'nope.pth'), dst])
    truncated = tmp_path / 'truncated.pth'
    truncated.write_bytes(open(src, 'rb').read()[:1000])
    with pytest.raises(ValueError, match='not a readable torch checkpoint'):
        mmseg_pspnet.main([str(truncated), dst])
    # A file that does not fit the config is reported.
    del state['decode_head.conv_seg.bias']
    state['decode_head.extra'] = torch.zeros(1)
    problems = mmseg_pspnet.check_against_config(state, R18_SYNTHETIC)
    assert problems == ['missing: decode_head.conv_seg.bias',
                        'unexpected: decode_head.extra']


# --------------------------------------------------------------- the data
def test_random_resize_keeps_the_pair_aligned():
    np.random.seed(0)
    resize = PairedRandomResize(scale=(256, 128), ratio_range=(0.5, 2.0))
    widths = set()
    for _ in range(5):
        img = np.zeros((64, 128, 3), np.uint8)
        label = np.zeros((64, 128), np.int64)
        label[:, 64:] = 7
        img[:, 64:] = 200
        out = resize(dict(img=img, gt_label=label))
        h, w = out['gt_label'].shape
        assert out['img'].shape[:2] == (h, w)
        assert 0.5 * 0.99 <= w / 256 <= 2.0 * 1.01 and abs(w - 2 * h) <= 1
        assert set(np.unique(out['gt_label'])) == {0, 7}
        assert (out['img'][:, w // 2 + 2:] == 200).all()
        widths.add(w)
    assert len(widths) == 5   # a new ratio every call


def test_configs_share_mmsegmentations_recipe():
    cfg = Config.fromfile(R50_CITYSCAPES)
    assert cfg.model.num_classes == 19
    assert cfg.model.auxiliary_head.loss.loss_weight == 0.4
    assert cfg.optim_wrapper.optimizer == dict(type='SGD', lr=0.01, momentum=0.9,
                                               weight_decay=0.0005)
    poly = cfg.param_scheduler[0]
    assert (poly.type, poly.power, poly.eta_min, poly.end) == (
        'PolyLR', 0.9, 1e-4, 80000)
    assert cfg.train_cfg.max_iters == 80000
    assert cfg.train_dataloader.dataset.use_train_ids is True
    assert cfg.val_evaluator.type == 'SegmentationMetric'
    assert [h['type'] for h in cfg.custom_hooks] == ['RichProgressHook']
    synthetic = Config.fromfile(R18_SYNTHETIC)
    assert synthetic.train_dataloader.dataset.use_train_ids is True
    assert (synthetic.val_dataloader.dataset.seed
            != synthetic.train_dataloader.dataset.seed)
    assert synthetic.model.inference_scale == 2.0
    assert [h['type'] for h in synthetic.custom_hooks] == ['RichProgressHook']
