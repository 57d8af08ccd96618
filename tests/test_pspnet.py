"""PSPNet: mmsegmentation's weight layout, output stride, shapes, losses,
prediction (weight files: test_pspnet_files.py)."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config

from gentk.models.segmentors import SegCrossEntropyLoss, SegDataPreprocessor
from tiny_pspnet import (R18_SYNTHETIC, R50_CITYSCAPES, R101_CITYSCAPES,
                         build, layout_of, model_from_config, tiny_pspnet)


# --------------------------------------------------------------------------
# The expected weight layout, written from mmsegmentation's definitions
# (mmseg/models/backbones/resnet.py ResNetV1c + utils/res_layer.py ResLayer,
# decode_heads/decode_head.py, psp_head.py, fcn_head.py; mmcv ConvModule
# names its parts `conv`, `bn`) -- independently of gentk's model code.
# --------------------------------------------------------------------------
def norm(prefix, channels):
    return [(f'{prefix}.weight', (channels,)), (f'{prefix}.bias', (channels,)),
            (f'{prefix}.running_mean', (channels,)),
            (f'{prefix}.running_var', (channels,)),
            (f'{prefix}.num_batches_tracked', ())]


def conv_norm(conv, bn, out_channels, in_channels, kernel):
    """A bias-free conv named ``conv`` followed by a BN named ``bn``."""
    return ([(f'{conv}.weight', (out_channels, in_channels, kernel, kernel))]
            + norm(bn, out_channels))


def conv_module(prefix, out_channels, in_channels, kernel):
    """mmcv ConvModule with BN: a bias-free conv and a norm named `bn`."""
    return ([(f'{prefix}.conv.weight', (out_channels, in_channels, kernel, kernel))]
            + norm(f'{prefix}.bn', out_channels))


def mmseg_pspnet_layout(depth=50, num_classes=19, stem_channels=64,
                        base_channels=64, channels=512, aux_channels=256,
                        pool_scales=(1, 2, 3, 6)):
    """[(key, shape)] of mmsegmentation's EncoderDecoder(ResNetV1c-D8,
    PSPHead(in_index=3), FCNHead(in_index=2, num_convs=1,
    concat_input=False))."""
    layout = []
    half = stem_channels // 2
    # deep stem: Sequential(conv, bn, relu) x 3; relus at 2, 5, 8
    layout += conv_norm('backbone.stem.0', 'backbone.stem.1', half, 3, 3)
    layout += conv_norm('backbone.stem.3', 'backbone.stem.4', half, half, 3)
    layout += conv_norm('backbone.stem.6', 'backbone.stem.7', stem_channels,
                        half, 3)
    bottleneck = depth >= 50
    expansion = 4 if bottleneck else 1
    blocks = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3), 50: (3, 4, 6, 3),
              101: (3, 4, 23, 3)}[depth]
    strides = (1, 2, 1, 1)
    in_channels = stem_channels
    stage_out = []
    for stage, num_blocks in enumerate(blocks):
        planes = base_channels * 2 ** stage
        out = planes * expansion
        for b in range(num_blocks):
            p = f'backbone.layer{stage + 1}.{b}'
            cin = in_channels if b == 0 else out
            if bottleneck:   # 1x1 reduce, 3x3, 1x1 expand
                layout += conv_norm(f'{p}.conv1', f'{p}.bn1', planes, cin, 1)
                layout += conv_norm(f'{p}.conv2', f'{p}.bn2', planes, planes, 3)
                layout += conv_norm(f'{p}.conv3', f'{p}.bn3', out, planes, 1)
            else:            # two 3x3
                layout += conv_norm(f'{p}.conv1', f'{p}.bn1', planes, cin, 3)
                layout += conv_norm(f'{p}.conv2', f'{p}.bn2', planes, planes, 3)
            if b == 0 and (strides[stage] != 1 or cin != out):
                layout += conv_norm(f'{p}.downsample.0', f'{p}.downsample.1',
                                    out, cin, 1)
        in_channels = out
        stage_out.append(out)
    top = stage_out[3]
    for i in range(len(pool_scales)):   # Sequential(AdaptiveAvgPool2d, ConvModule)
        layout += conv_module(f'decode_head.psp_modules.{i}.1', channels, top, 1)
    layout += conv_module('decode_head.bottleneck', channels,
                          top + len(pool_scales) * channels, 3)
    layout += [('decode_head.conv_seg.weight', (num_classes, channels, 1, 1)),
               ('decode_head.conv_seg.bias', (num_classes,))]
    layout += conv_module('auxiliary_head.convs.0', aux_channels, stage_out[2], 3)
    layout += [('auxiliary_head.conv_seg.weight', (num_classes, aux_channels, 1, 1)),
               ('auxiliary_head.conv_seg.bias', (num_classes,))]
    return layout


#: Literal entries of mmsegmentation's pspnet_r50-d8 (19 classes) weights.
R50_SPOT_CHECKS = [
    ('backbone.stem.0.weight', (32, 3, 3, 3)),
    ('backbone.stem.1.running_var', (32,)),
    ('backbone.stem.3.weight', (32, 32, 3, 3)),
    ('backbone.stem.6.weight', (64, 32, 3, 3)),
    ('backbone.stem.7.num_batches_tracked', ()),
    ('backbone.layer1.0.conv1.weight', (64, 64, 1, 1)),
    ('backbone.layer1.0.bn1.weight', (64,)),
    ('backbone.layer1.0.conv3.weight', (256, 64, 1, 1)),
    ('backbone.layer1.0.downsample.0.weight', (256, 64, 1, 1)),
    ('backbone.layer1.0.downsample.1.running_mean', (256,)),
    ('backbone.layer2.0.conv2.weight', (128, 128, 3, 3)),
    ('backbone.layer2.0.downsample.0.weight', (512, 256, 1, 1)),
    ('backbone.layer3.5.conv3.weight', (1024, 256, 1, 1)),
    ('backbone.layer4.0.downsample.0.weight', (2048, 1024, 1, 1)),
    ('backbone.layer4.2.bn3.bias', (2048,)),
    ('decode_head.psp_modules.0.1.conv.weight', (512, 2048, 1, 1)),
    ('decode_head.psp_modules.3.1.conv.weight', (512, 2048, 1, 1)),
    ('decode_head.psp_modules.3.1.bn.running_var', (512,)),
    ('decode_head.bottleneck.conv.weight', (512, 4096, 3, 3)),
    ('decode_head.bottleneck.bn.weight', (512,)),
    ('decode_head.conv_seg.weight', (19, 512, 1, 1)),
    ('decode_head.conv_seg.bias', (19,)),
    ('auxiliary_head.convs.0.conv.weight', (256, 1024, 3, 3)),
    ('auxiliary_head.convs.0.bn.num_batches_tracked', ()),
    ('auxiliary_head.conv_seg.weight', (19, 256, 1, 1)),
    ('auxiliary_head.conv_seg.bias', (19,)),
]


# ------------------------------------------------------------- the layout
def test_r50_layout_is_mmsegmentations_pspnet():
    model = model_from_config(R50_CITYSCAPES)       # meta device: no memory
    expected = dict(mmseg_pspnet_layout(depth=50))
    actual = layout_of(model)
    assert sorted(set(expected) - set(actual)) == []   # missing
    assert sorted(set(actual) - set(expected)) == []   # unexpected
    assert {k: v for k, v in actual.items() if expected[k] != v} == {}
    for key, shape in R50_SPOT_CHECKS:
        assert actual[key] == shape, key
    assert len(actual) == len(expected) == 370


def test_r101_and_r18_layouts():
    r101 = model_from_config(R101_CITYSCAPES)
    assert layout_of(r101) == dict(mmseg_pspnet_layout(depth=101))
    assert layout_of(r101)['backbone.layer3.22.conv3.weight'] == (1024, 256, 1, 1)
    # mmsegmentation's pspnet_r18-d8: heads of 128 and 64 channels.
    r18 = model_from_config(R50_CITYSCAPES, backbone=dict(depth=18),
                            decode_head=dict(channels=128),
                            auxiliary_head=dict(channels=64))
    expected = dict(mmseg_pspnet_layout(depth=18, channels=128, aux_channels=64))
    assert layout_of(r18) == expected
    assert 'backbone.layer1.0.downsample.0.weight' not in expected  # 64 -> 64
    assert expected['decode_head.bottleneck.conv.weight'] == (128, 512 + 4 * 128, 3, 3)
    assert expected['auxiliary_head.convs.0.conv.weight'] == (64, 256, 3, 3)


def test_cpu_config_layout_follows_its_widths():
    cfg = Config.fromfile(R18_SYNTHETIC).model
    backbone = cfg.backbone
    model = build(cfg, 'meta')
    assert layout_of(model) == dict(mmseg_pspnet_layout(
        depth=18, stem_channels=backbone.stem_channels,
        base_channels=backbone.base_channels,
        channels=cfg.decode_head.channels,
        aux_channels=cfg.auxiliary_head.channels))


def test_dilations_follow_contract_dilation():
    model = model_from_config(R50_CITYSCAPES)
    backbone = model.backbone
    # Stage 3 (dilation 2) and 4 (dilation 4): first block at half.
    assert [b.conv2.dilation[0] for b in backbone.layer3] == [1, 2, 2, 2, 2, 2]
    assert [b.conv2.dilation[0] for b in backbone.layer4] == [2, 4, 4]
    assert all(b.conv2.padding == b.conv2.dilation for b in backbone.layer4)
    assert [b.conv2.stride[0] for b in backbone.layer2] == [2, 1, 1, 1]
    assert backbone.layer3[0].conv2.stride == (1, 1)
    r18 = model_from_config(R50_CITYSCAPES, backbone=dict(depth=18)).backbone
    # Basic blocks: only conv1 is dilated (mmsegmentation's BasicBlock).
    assert [b.conv1.dilation[0] for b in r18.layer4] == [2, 4]
    assert [b.conv2.dilation[0] for b in r18.layer4] == [1, 1]


# ------------------------------------------------------------- the network
def test_output_stride_is_8():
    model = tiny_pspnet(depth=50, base=4, channels=8)
    features = model.backbone(torch.randn(2, 3, 64, 128))
    assert [tuple(f.shape[1:]) for f in features] == [
        (16, 16, 32), (32, 8, 16), (64, 8, 16), (128, 8, 16)]
    assert model.backbone.out_channels == (16, 32, 64, 128)


@pytest.mark.parametrize('size', [(97, 131), (33, 47), (8, 8)])
def test_odd_sizes_give_logits_at_the_input_size(size):
    model = tiny_pspnet().eval()
    img = torch.randn(2, 3, *size)
    features = model.backbone(img)
    # Every stride-2 layer rounds up: ceil(ceil(ceil(h/2)/2)/2).
    h, w = (-(-(-(-(-(-s // 2)) // 2)) // 2) for s in size)
    assert features[3].shape[-2:] == (h, w)
    assert model.decode_head(features).shape == (2, 19, h, w)
    assert model({'img': img}).shape == (2, 19, *size)


def test_random_init_losses_are_near_log_num_classes():
    model = tiny_pspnet()
    img = torch.randn(2, 3, 64, 96)
    label = torch.randint(0, 19, (2, 64, 96))
    losses = model({'img': img, 'label': label}, mode='loss')
    assert set(losses) == {'loss_ce', 'loss_aux', 'acc_seg'}
    # conv_seg starts at N(0, 0.01): near-uniform scores, CE ~ ln 19.
    assert abs(losses['loss_ce'].item() - np.log(19)) < 0.1
    assert abs(losses['loss_aux'].item() - 0.4 * np.log(19)) < 0.05
    assert 0 <= losses['acc_seg'].item() <= 1
    total, log_vars = model.parse_losses(losses)
    assert torch.isclose(total, losses['loss_ce'] + losses['loss_aux'])
    assert 'acc_seg' in log_vars


def test_ignored_pixels_add_nothing():
    logits = torch.randn(2, 5, 6, 7, requires_grad=True)
    label = torch.randint(0, 5, (2, 6, 7))
    label[:, :3] = 255
    loss = SegCrossEntropyLoss()(logits, label)
    assert torch.isclose(loss, F.cross_entropy(logits, label, ignore_index=255))
    loss.backward()
    assert logits.grad[:, :, :3].abs().max() == 0
    assert logits.grad[:, :, 3:].abs().max() > 0
    # mmsegmentation's average: over all pixels, ignored ones count as 0.
    as_mmseg = SegCrossEntropyLoss(avg_non_ignore=False)(logits, label)
    valid = (label != 255).sum()
    assert torch.isclose(as_mmseg, loss * valid / label.numel())
    # Nothing labelled: zero, not NaN, and still differentiable.
    none = SegCrossEntropyLoss()(logits, torch.full_like(label, 255))
    assert none.item() == 0 and none.requires_grad


def test_ignored_pixels_through_the_model():
    model = tiny_pspnet().eval()   # no dropout: the logits are reproducible
    img = torch.randn(2, 3, 40, 56)
    label = torch.randint(0, 19, (2, 40, 56))
    label[:, :, :20] = 255
    losses = model({'img': img, 'label': label}, mode='loss')
    # The decode head's loss: its logits upsampled to the labels, averaged
    # over the labelled pixels only.
    head = model.decode_head
    logits = F.interpolate(head(model.backbone(img)), size=(40, 56),
                           mode='bilinear', align_corners=head.align_corners)
    expected = F.cross_entropy(logits, label, ignore_index=255)
    assert losses['loss_ce'].item() == pytest.approx(expected.item(), rel=1e-5)
    all_ignored = torch.full_like(label, 255)
    c = model({'img': img, 'label': all_ignored}, mode='loss')
    assert c['loss_ce'].item() == 0 and c['acc_seg'].item() == 0


def test_predict_upsamples_bilinearly_to_the_input_size():
    model = tiny_pspnet().eval()
    img = torch.randint(0, 256, (3, 61, 83), dtype=torch.uint8)
    label = torch.randint(0, 19, (61, 83))
    data = model.data_preprocessor({'inputs': {'img': [img], 'label': [label]}})
    samples = model.val_step({'inputs': {'img': [img], 'label': [label]}})
    normalised = data['inputs']['img']
    low = model.decode_head(model.backbone(normalised))
    expected = F.interpolate(low, size=(61, 83), mode='bilinear',
                             align_corners=False)
    assert low.shape[-2:] == (8, 11)
    sample = samples[0]
    assert sample.pred_label.shape == (61, 83)
    assert sample.pred_label.dtype == torch.int64
    assert torch.allclose(sample.seg_logits, expected[0], atol=1e-5)
    assert torch.equal(sample.pred_label, expected[0].argmax(0))
    assert torch.equal(sample.gt_label, label)
    # Not nearest: bilinear scores vary inside one low-resolution cell.
    nearest = F.interpolate(low, size=(61, 83), mode='nearest')
    assert not torch.allclose(sample.seg_logits, nearest[0], atol=1e-3)


def test_inference_scale_segments_an_upscaled_photo():
    model = tiny_pspnet().eval()
    model.inference_scale = 2.0
    img = torch.randint(0, 256, (1, 3, 30, 50), dtype=torch.uint8)
    normalised = model.data_preprocessor.normalize(img)
    big = F.interpolate(normalised, size=(60, 100), mode='bilinear',
                        align_corners=False)
    expected = F.interpolate(model.decode_head(model.backbone(big)),
                             size=(30, 50), mode='bilinear', align_corners=False)
    assert torch.allclose(model.segment_logits(img), expected, atol=1e-5)
    assert model.segment(img).shape == (1, 30, 50)
    # Training is untouched: the loss sees the photo as it is.
    model.train()
    label = torch.randint(0, 19, (2, 30, 50))
    losses = model({'img': torch.randn(2, 3, 30, 50), 'label': label}, mode='loss')
    assert losses['loss_ce'].isfinite()


def test_segment_reads_uint8_and_minus1_1_photos_alike():
    model = tiny_pspnet().eval()
    uint8 = torch.randint(0, 256, (2, 3, 48, 64), dtype=torch.uint8)
    minus1_1 = uint8.float() / 127.5 - 1
    from_uint8 = model.segment_logits(uint8)
    assert torch.allclose(from_uint8, model.segment_logits(minus1_1), atol=1e-4)
    pred = model.segment(minus1_1)
    assert pred.shape == (2, 48, 64) and pred.dtype == torch.int64
    assert torch.equal(pred, from_uint8.argmax(1))
    # ImageNet normalisation on the 0..255 scale.
    preprocessor = model.data_preprocessor
    assert torch.allclose(preprocessor.from_minus1_1(minus1_1),
                          (uint8.float() - preprocessor.mean) / preprocessor.std,
                          atol=1e-4)
    with pytest.raises(ValueError, match=r'\[-1, 1\]'):
        model.segment(uint8.float())                 # 0..255 floats
    # Gradients reach the photo (a generator can learn through it).
    photo = minus1_1.clone().requires_grad_()
    model.segment_logits(photo).sum().backward()
    assert photo.grad is not None and photo.grad.abs().sum() > 0


def test_preprocessor_normalises_with_imagenet_rgb_statistics():
    """Default statistics are ImageNet's in RGB order, on the 0..255 scale
    (mean 0.485, 0.456, 0.406 and std 0.229, 0.224, 0.225 times 255), as
    mmsegmentation's released checkpoints expect: one pixel by hand."""
    mean = [0.485 * 255, 0.456 * 255, 0.406 * 255]
    std = [0.229 * 255, 0.224 * 255, 0.225 * 255]
    rgb = [200, 100, 50]          # a red-dominant pixel, so order matters
    expected = torch.tensor([(v - m) / s for v, m, s in zip(rgb, mean, std)])
    assert expected.tolist() == pytest.approx([1.3070, -0.2850, -0.9330],
                                              abs=1e-4)
    img = torch.tensor(rgb, dtype=torch.uint8).view(3, 1, 1).expand(3, 2, 3)
    for preprocessor in (SegDataPreprocessor(),
                         tiny_pspnet().data_preprocessor):
        out = preprocessor({'inputs': {'img': [img.clone()]}})['inputs']['img']
        assert out.shape == (1, 3, 2, 3)
        torch.testing.assert_close(
            out, expected.view(1, 3, 1, 1).expand(1, 3, 2, 3), atol=1e-5,
            rtol=0)
        # the generator path: the same pixel given in [-1, 1]
        minus1_1 = torch.tensor(rgb).view(1, 3, 1, 1) / 127.5 - 1
        torch.testing.assert_close(preprocessor.from_minus1_1(minus1_1),
                                   expected.view(1, 3, 1, 1), atol=1e-5, rtol=0)


def test_align_corners_is_set_in_one_place():
    """Training (the heads' losses) and inference resize logits alike: the
    segmenter takes the decode head's setting, or gives the heads its own;
    two different ones are an error."""
    from tiny_pspnet import build
    assert tiny_pspnet(align_corners=True).align_corners is True
    assert tiny_pspnet().align_corners is False

    def pspnet(model_value, head_value=None):
        head = dict(type='PSPHead', in_index=3, channels=16)
        if head_value is not None:
            head['align_corners'] = head_value
        return build(dict(
            type='EncoderDecoderSegmentor', num_classes=19,
            align_corners=model_value, decode_head=head,
            backbone=dict(type='ResNetV1c', depth=18, stem_channels=8,
                          base_channels=8)))

    model = pspnet(True)
    assert model.align_corners and model.decode_head.align_corners
    with pytest.raises(ValueError, match='decode head has align_corners=False'):
        pspnet(True, False)
