from .rich_progress_hook import RichProgressHook
from .sample_grid_hook import SampleGridHook

__all__ = ['RichProgressHook', 'SampleGridHook']
