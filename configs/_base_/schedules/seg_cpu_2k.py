# CPU-sized segmentation schedule: AdamW (lr 2e-3, weight decay 0.01) with
# poly decay (power 0.9) to 0 over 2k iterations; validation and a
# checkpoint at the half and at the end. From scratch, AdamW gets further
# than mmsegmentation's SGD in this budget (SGD 0.01 suits its 80k
# iterations from ImageNet weights).
max_iters = 2000
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=2e-3, weight_decay=0.01))
param_scheduler = [
    dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=max_iters,
         by_epoch=False)]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters,
                 val_interval=max_iters // 2)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False,
                    interval=max_iters // 2, max_keep_ckpts=2, save_last=True),
    sampler_seed=dict(type='DistSamplerSeedHook'))
log_processor = dict(window_size=50, by_epoch=False)
