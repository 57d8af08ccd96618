# PSPNet-R101-D8 on Cityscapes: the R50 recipe with a deeper backbone.
_base_ = './pspnet_r50-d8_cityscapes_512x1024_80k.py'
model = dict(backbone=dict(depth=101))
