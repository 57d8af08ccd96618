# pix2pixHD stage 1 (paper settings): global generator at 1024x512,
# 2 discriminators, LSGAN + feature matching (lambda 10), batch 1,
# Adam 2e-4 (0.5, 0.999), 100 epochs constant + 100 linear decay.
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
