# CPU-sized schedule: the paper's shape (constant lr, then linear decay to 0)
# over iterations instead of epochs.
max_iters = 2000
# fused=True: one pass over each parameter, gradient and moment per step
# (CPU and CUDA, torch >= 2.4) instead of the per-tensor loop's temporaries;
# same update up to float rounding. For the 183M-parameter global generator
# on CPU this is ~0.1 s per step instead of ~0.9 s (tools/benchmark.py).
# StepInBackwardOptimWrapper: the same update, each large parameter stepped
# as soon as its gradient is complete (gentk/engine/step_in_backward.py).
optim_wrapper = dict(
    constructor='GANOptimWrapperConstructor',
    generator=dict(type='StepInBackwardOptimWrapper',
                   optimizer=dict(type='Adam', lr=2e-4, betas=(0.5, 0.999),
                                  fused=True),
                   modules=['generator', 'encoder']),
    discriminator=dict(type='StepInBackwardOptimWrapper',
                       optimizer=dict(type='Adam', lr=2e-4,
                                      betas=(0.5, 0.999), fused=True)))
param_scheduler = [
    dict(type='LinearLR', start_factor=1.0, end_factor=0.0, by_epoch=False,
         begin=max_iters // 2, end=max_iters)]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters,
                 val_interval=max_iters)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=500,
                    max_keep_ckpts=3, save_last=True),
    sampler_seed=dict(type='DistSamplerSeedHook'))
log_processor = dict(window_size=50, by_epoch=False)
