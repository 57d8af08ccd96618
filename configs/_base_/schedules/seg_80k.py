# mmsegmentation's Cityscapes schedule: SGD (lr 0.01, momentum 0.9, weight
# decay 5e-4), poly decay (power 0.9) to 1e-4 over 80k iterations,
# validation and a checkpoint every 8k.
max_iters = 80000
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=0.0005),
    clip_grad=None)
param_scheduler = [
    dict(type='PolyLR', eta_min=1e-4, power=0.9, begin=0, end=max_iters,
         by_epoch=False)]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters,
                 val_interval=8000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=8000,
                    max_keep_ckpts=3, save_last=True),
    sampler_seed=dict(type='DistSamplerSeedHook'))
log_processor = dict(window_size=50, by_epoch=False)
