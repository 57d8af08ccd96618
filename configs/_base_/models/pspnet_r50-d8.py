# PSPNet (Zhao et al., CVPR 2017) as mmsegmentation's pspnet_r50-d8: a
# dilated ResNet-50-V1c (deep stem, output stride 8), pyramid pooling head
# on stage 4 and an FCN auxiliary head on stage 3 (loss weight 0.4).
# Parameter names equal mmsegmentation's, so its released Cityscapes
# checkpoints load (tools/convert/mmseg_pspnet.py). Head input channels
# follow from the backbone; num_classes is set once, here.
# mmsegmentation trains with SyncBN on 4 GPUs; BN here (one process).
norm_cfg = dict(type='BN')
model = dict(
    type='EncoderDecoderSegmentor',
    num_classes=19,
    data_preprocessor=dict(type='SegDataPreprocessor'),  # ImageNet mean/std
    backbone=dict(
        type='ResNetV1c',
        depth=50,
        strides=(1, 2, 1, 1),
        dilations=(1, 1, 2, 4),
        contract_dilation=True,
        out_indices=(0, 1, 2, 3),
        norm_cfg=norm_cfg),
    decode_head=dict(
        type='PSPHead',
        in_index=3,
        channels=512,
        pool_scales=(1, 2, 3, 6),
        dropout_ratio=0.1,
        norm_cfg=norm_cfg,
        align_corners=False,
        # mmsegmentation averages over all pixels, ignored ones included.
        loss=dict(type='SegCrossEntropyLoss', loss_weight=1.0,
                  ignore_index=255, avg_non_ignore=False)),
    auxiliary_head=dict(
        type='FCNHead',
        in_index=2,
        channels=256,
        num_convs=1,
        concat_input=False,
        dropout_ratio=0.1,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss=dict(type='SegCrossEntropyLoss', loss_weight=0.4,
                  ignore_index=255, avg_non_ignore=False,
                  loss_name='loss_aux')))
