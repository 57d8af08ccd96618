# pix2pixHD stage 1 (paper settings): global generator at 1024x512,
# LSGAN + feature matching (lambda 10), batch 1, Adam 2e-4 (0.5, 0.999),
# 100 epochs constant + 100 linear decay (decayed per iteration rather than
# per epoch), generator step first as in the official loop.
# - 2 discriminators, as the official 1024x512 script (train_512p.sh); the
#   paper's three are in the 2048x1024 stage (cityscapes_2048.py).
# - The VGG perceptual loss of the paper's full model needs VGG19 weights on
#   local disk and is off here (the paper's "w/o VGG loss" row); enable it
#   as docs/get_started.md shows ("Perceptual loss").
_base_ = [
    '../_base_/models/pix2pixhd_global.py',
    '../_base_/datasets/cityscapes_1024x512.py',
    '../_base_/schedules/pix2pixhd_200e.py',
    '../_base_/default_runtime.py',
]
custom_hooks = [
    dict(type='RichProgressHook'),
    dict(type='SampleGridHook', interval=5000, num_samples=4),
]
