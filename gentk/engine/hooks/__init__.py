from .broadcast_buffers_hook import BroadcastBuffersHook
from .checkpoint_hook import AtomicCheckpointHook
from .kernel_cache_hook import ForgetKernelCachesHook
from .random_state_hook import RandomStateHook
from .rich_progress_hook import RichProgressHook
from .sample_grid_hook import SampleGridHook

__all__ = ['AtomicCheckpointHook', 'BroadcastBuffersHook',
           'ForgetKernelCachesHook', 'RandomStateHook', 'RichProgressHook',
           'SampleGridHook']
