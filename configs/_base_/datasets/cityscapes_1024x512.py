# Cityscapes at pix2pixHD's first stage: photos scaled to 1024 wide
# (bicubic; labels and instances nearest).
_base_ = './cityscapes_2048x1024.py'

train_pipeline = [
    dict(type='LoadPairedImages'),
    dict(type='CheckLabelIds', num_classes=35),
    dict(type='ScaleWidth', width=1024),
    dict(type='PairedRandomFlip', prob=0.5),
    dict(type='PackGenInputs'),
]
test_pipeline = [
    dict(type='LoadPairedImages'),
    dict(type='CheckLabelIds', num_classes=35),
    dict(type='ScaleWidth', width=1024),
    dict(type='PackGenInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
