# CPU-sized twin of cityscapes_1024.py on the embedded synthetic streets:
# the same algorithm, losses and schedule shape with narrower networks
# (ngf 32, 3 down-samplings, 6 residual blocks; 2 discriminators, ndf 32).
_base_ = [
    '../_base_/models/pix2pixhd_global.py',
    '../_base_/datasets/synthetic_streets_256x128.py',
    '../_base_/schedules/cpu_iters.py',
    '../_base_/default_runtime.py',
]
model = dict(
    generator=dict(base_channels=32, num_downsamples=3, num_blocks=6),
    discriminator=dict(base_channels=32))
