# pix2pixHD with the global generator (appendix B) and multi-scale
# PatchGAN discriminators (appendix C): LSGAN + feature matching (lambda 10).
# Input channels follow from data_preprocessor.num_classes (set by the
# dataset config) and the instance edge channel.
model = dict(
    type='Pix2PixHD',
    # channels_last: the networks run NHWC, oneDNN's fast CPU layout.
    data_preprocessor=dict(type='GenDataPreprocessor', num_classes=35,
                           use_instance_edges=True, channels_last=True),
    generator=dict(type='GlobalGenerator', base_channels=64, num_downsamples=4,
                   num_blocks=9, norm_cfg=dict(type='IN')),
    discriminator=dict(type='MultiScaleDiscriminator', num_scales=2,
                       base_channels=64, num_layers=3, norm_cfg=dict(type='IN')),
    gan_loss=dict(type='GANLoss', gan_type='lsgan'),
    feature_matching_loss=dict(type='FeatureMatchingLoss', loss_weight=10.0))
# No VGG perceptual loss by default: it needs VGG19 weights on local disk.
# A config enables it with model = dict(perceptual_loss=dict(
# type='PerceptualLoss', weights_path=..., normalize_input=False))
# (docs/get_started.md); normalize_input=False feeds VGG the [-1, 1] images
# as the official code does, the input its lambda = 10 was set for.
