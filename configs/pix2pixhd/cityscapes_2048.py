# pix2pixHD stage 2 (paper settings): global generator + one local enhancer
# (local ngf 32) at 2048x1024, 3 discriminators. The global generator starts
# from the stage-1 checkpoint and stays fixed for the first 10 epochs
# (2975 iterations each at batch 1), then everything is fine-tuned jointly.
_base_ = [
    '../_base_/models/pix2pixhd_global.py',
    '../_base_/datasets/cityscapes_2048x1024.py',
    '../_base_/schedules/pix2pixhd_200e.py',
    '../_base_/default_runtime.py',
]
model = dict(
    generator=dict(_delete_=True, type='LocalEnhancer', base_channels=32,
                   num_enhancers=1, num_blocks=3,
                   global_cfg=dict(num_downsamples=4, num_blocks=9)),
    discriminator=dict(num_scales=3),
    freeze_global_iters=10 * 2975,
    global_generator_weights='work_dirs/cityscapes_1024/epoch_200.pth')
custom_hooks = [
    dict(type='RichProgressHook'),
    dict(type='SampleGridHook', interval=5000, num_samples=4),
]
