# pix2pix (Isola et al. 2017): U-Net-256 generator, 70x70 PatchGAN with
# batch norm, vanilla GAN loss + L1 (lambda 100).
model = dict(
    type='Pix2Pix',
    data_preprocessor=dict(type='GenDataPreprocessor', num_classes=35,
                           use_instance_edges=False),
    generator=dict(type='UnetGenerator', base_channels=64, num_downs=8,
                   norm_cfg=dict(type='BN'), use_dropout=True),
    discriminator=dict(type='MultiScaleDiscriminator', num_scales=1,
                       base_channels=64, num_layers=3, norm_cfg=dict(type='BN'),
                       padding=1),
    gan_loss=dict(type='GANLoss', gan_type='vanilla'),
    pixel_loss=dict(type='L1Loss', loss_weight=100.0))
