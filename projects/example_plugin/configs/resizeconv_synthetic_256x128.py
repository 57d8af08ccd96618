# configs/pix2pixhd/synthetic_256x128.py with the plugin's generator.
# The registry finds `ResizeConvGenerator` because the installed package's
# `gentk.plugins` entry point was loaded (pip install -e projects/example_plugin);
# for the no-install route see resizeconv_synthetic_256x128_custom_imports.py.
_base_ = '../../../configs/pix2pixhd/synthetic_256x128.py'

model = dict(
    # _delete_ drops the base GlobalGenerator's keys (norm_cfg, ...) instead
    # of merging them into this dict. in_channels is left out: Pix2PixHD
    # fills it in from the data preprocessor (35 labels + instance edges).
    generator=dict(_delete_=True, type='ResizeConvGenerator',
                   base_channels=32, num_downsamples=3, num_blocks=6,
                   norm_cfg=dict(type='IN')))
