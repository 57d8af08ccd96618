default_scope = 'gentk'
runner_type = 'GenRunner'
custom_imports = dict(
    imports=['gentk.datasets', 'gentk.engine', 'gentk.evaluation', 'gentk.models'],
    allow_failed_imports=False)

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    # tools/train.py switches to gloo when no GPU is present.
    dist_cfg=dict(backend='nccl'))

# Reuse freed CPU memory instead of page-faulting it in again every step
# (gentk/utils/cpu_heap.py): ~30% faster paper-sized steps on a CPU for
# a few hundred MB more resident memory. False leaves malloc as it is.
keep_freed_cpu_memory = True

# Each network of a GAN gets its own DistributedDataParallel wrapper.
# broadcast_buffers=False: a broadcast in every forward would make sampling
# a collective, so rank 0 could not write sample grids alone; GenRunner's
# BroadcastBuffersHook gives every rank rank 0's batch-norm statistics
# before validation and at the end instead.
model_wrapper_cfg = dict(
    type='MMSeparateDistributedDataParallel', broadcast_buffers=False,
    find_unused_parameters=False)

# Sample grids come from the validation set (the training set without one).
custom_hooks = [
    dict(type='RichProgressHook'),
    dict(type='SampleGridHook', interval=250, num_samples=4),
]

vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='Visualizer', vis_backends=vis_backends)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0, deterministic=False)
