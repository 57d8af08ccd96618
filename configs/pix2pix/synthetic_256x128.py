# The pix2pix baseline (U-Net + PatchGAN + L1) on the synthetic streets.
# 7 down-samplings: a 128-pixel-high input reaches 1x2 at the bottleneck.
# pix2pix's random jitter: resize by 286/256 (286x143), random crop back
# to 256x128, random flip. Samples keep dropout on (Pix2Pix's
# test_time_dropout), as the paper's inference does.
_base_ = [
    '../_base_/models/pix2pix_unet.py',
    '../_base_/datasets/synthetic_streets_256x128.py',
    '../_base_/schedules/cpu_iters.py',
    '../_base_/default_runtime.py',
]
model = dict(generator=dict(num_downs=7))
train_dataloader = dict(dataset=dict(pipeline=[
    dict(type='PairedResize', scale=(286, 143)),
    dict(type='PairedRandomCrop', crop_size=(128, 256)),
    dict(type='PairedRandomFlip', prob=0.5),
    dict(type='PackGenInputs'),
]))
