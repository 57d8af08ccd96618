# The embedded default: procedural street scenes in the Cityscapes label ids
# (35 one-hot channels), rendered on the fly at 256x128. No files needed.
dataset_type = 'SyntheticStreetDataset'
train_pipeline = [
    dict(type='PairedRandomFlip', prob=0.5),
    dict(type='PackGenInputs'),
]
test_pipeline = [dict(type='PackGenInputs')]
train_dataloader = dict(
    batch_size=1,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type=dataset_type, num_samples=200, height=128, width=256,
                 seed=0, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, num_samples=50, height=128, width=256,
                 seed=1, test_mode=True, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='PairedImageMetric')
test_evaluator = val_evaluator
