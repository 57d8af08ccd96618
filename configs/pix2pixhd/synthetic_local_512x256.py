# CPU-sized twin of cityscapes_2048.py: global generator + one local
# enhancer at 512x256 (global ngf 32, local ngf 16), 3 discriminators.
# Start it from a synthetic_256x128 checkpoint to follow the paper's stages:
#   --cfg-options \
#     model.global_generator_weights=work_dirs/synthetic_256x128/iter_2000.pth
# (its two discriminators then start scales 1 and 2).
_base_ = [
    '../_base_/models/pix2pixhd_global.py',
    '../_base_/datasets/synthetic_streets_256x128.py',
    '../_base_/schedules/cpu_iters.py',
    '../_base_/default_runtime.py',
]
model = dict(
    generator=dict(_delete_=True, type='LocalEnhancer', base_channels=16,
                   num_enhancers=1, num_blocks=3,
                   global_cfg=dict(num_downsamples=3, num_blocks=6)),
    discriminator=dict(num_scales=3, base_channels=32),
    freeze_global_iters=200)
# The frozen global generator gets no gradients: DDP must expect that.
model_wrapper_cfg = dict(find_unused_parameters=True)
train_dataloader = dict(dataset=dict(height=256, width=512))
val_dataloader = dict(dataset=dict(height=256, width=512))
test_dataloader = val_dataloader
