# synthetic_256x128 with pix2pixHD's instance-level feature encoder (3-d
# features per instance, trained with the generator). After training:
#   python tools/encode_features.py CONFIG CKPT --out clusters.pth
#   python tools/generate.py CONFIG CKPT LABELS --instances INST \
#       --clusters clusters.pth --variants 4 --out OUT
_base_ = './synthetic_256x128.py'
model = dict(encoder=dict(type='InstanceFeatureEncoder', out_channels=3,
                          base_channels=16, num_downsamples=4))
