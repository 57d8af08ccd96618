# pix2pixHD stage 2 (paper settings): global generator + one local enhancer
# (local ngf 32) at 2048x1024, 3 discriminators. The global generator starts
# from the stage-1 checkpoint and stays fixed for the first 10 epochs
# (2975 iterations each at batch 1 on one process; with N processes an
# epoch is 2975 / N iterations, so divide freeze_global_iters by N), then
# everything is fine-tuned jointly. The stage-1 file is read when training
# starts; testing and generating from a stage-2 checkpoint do not need it.
# - The discriminators start from stage 1's as well, each at the resolution
#   it was trained on (stage-1 scales 0 and 1 -> scales 1 and 2, as the
#   official --load_pretrain), the new 2048-wide scale 0 from N(0, 0.02).
# - 100 + 100 epochs, as appendix A states for all runs (the official
#   train_1024p script uses 50 + 50).
# - VGG loss off unless enabled, as in cityscapes_1024.py.
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
# While the global generator is frozen its parameters get no gradient,
# which DistributedDataParallel must be told to expect.
model_wrapper_cfg = dict(find_unused_parameters=True)
custom_hooks = [
    dict(type='RichProgressHook'),
    dict(type='SampleGridHook', interval=5000, num_samples=4),
]
