# PSPNet-R50-D8 on Cityscapes (19 train ids, 255 ignored), mmsegmentation's
# pspnet_r50-d8_4xb2-80k_cityscapes-512x1024: random rescale 0.5-2.0 of
# 2048x1024, 512x1024 crops, flips; 2 images per GPU on 4 GPUs
# (tools/dist_train.sh CONFIG 4), batch norms synchronised over the 4 GPUs
# (sync_bn; on CPU each process keeps its own). Not reproduced: mmsegmentation's
# photometric distortion and its crop re-draw when one class fills > 75%.
_base_ = [
    '../_base_/models/pspnet_r50-d8.py',
    '../_base_/datasets/cityscapes_2048x1024.py',
    '../_base_/schedules/seg_80k.py',
    '../_base_/default_runtime.py',
]
crop_size = (512, 1024)  # (h, w)
sync_bn = 'torch'
train_pipeline = [
    dict(type='LoadPairedImages'),
    dict(type='CheckLabelIds', num_classes=19),
    dict(type='PairedRandomResize', scale=(2048, 1024), ratio_range=(0.5, 2.0)),
    dict(type='PairedRandomCrop', crop_size=crop_size),
    dict(type='PairedRandomFlip', prob=0.5),
    dict(type='PackGenInputs'),
]
test_pipeline = [
    dict(type='LoadPairedImages'),
    dict(type='CheckLabelIds', num_classes=19),
    dict(type='PackGenInputs'),
]
train_dataloader = dict(
    batch_size=2, num_workers=2,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(use_train_ids=True, with_instances=False,
                 pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(use_train_ids=True, with_instances=False,
                 pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(
    type='SegmentationMetric', num_classes=19, ignore_index=255,
    class_names=('road', 'sidewalk', 'building', 'wall', 'fence', 'pole',
                 'traffic light', 'traffic sign', 'vegetation', 'terrain',
                 'sky', 'person', 'rider', 'car', 'truck', 'bus', 'train',
                 'motorcycle', 'bicycle'))
test_evaluator = val_evaluator
# 19 x 1024 x 2048 logits per image are not needed by the metric.
model = dict(predict_logits=False)
# The GAN sample grid (SampleGridHook) does not apply to a segmentor.
custom_hooks = [dict(type='RichProgressHook')]
