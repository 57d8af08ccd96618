# Cityscapes fine annotations, the 35 label ids pix2pixHD feeds its
# generator, at the full 2048x1024.
dataset_type = 'CityscapesDataset'
data_root = 'data/cityscapes'
train_pipeline = [
    dict(type='LoadPairedImages'),
    dict(type='CheckLabelIds', num_classes=35),
    dict(type='PairedRandomFlip', prob=0.5),
    dict(type='PackGenInputs'),
]
test_pipeline = [
    dict(type='LoadPairedImages'),
    dict(type='CheckLabelIds', num_classes=35),
    dict(type='PackGenInputs'),
]
train_dataloader = dict(
    batch_size=1,
    num_workers=4,
    # Workers start afresh every epoch, seeded from the config's seed, so a
    # run resumed at an epoch boundary flips the same images as one that
    # was not interrupted (persistent workers would carry their random
    # state across epochs, which no checkpoint holds).
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type=dataset_type, data_root=data_root, split='train',
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, split='val',
                 test_mode=True, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='PairedImageMetric')
test_evaluator = val_evaluator
