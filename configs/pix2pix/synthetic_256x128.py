# The pix2pix baseline (U-Net + PatchGAN + L1) on the synthetic streets.
# 7 down-samplings: a 128-pixel-high input reaches 1x2 at the bottleneck.
_base_ = [
    '../_base_/models/pix2pix_unet.py',
    '../_base_/datasets/synthetic_streets_256x128.py',
    '../_base_/schedules/cpu_iters.py',
    '../_base_/default_runtime.py',
]
model = dict(generator=dict(num_downs=7))
