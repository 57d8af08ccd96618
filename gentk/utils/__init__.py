from .checkpoint_io import (atomic_save, atomic_write_text, load_trusted_checkpoint,
                            load_weights, state_dict_from)

__all__ = ['atomic_save', 'atomic_write_text', 'load_trusted_checkpoint',
           'load_weights', 'state_dict_from']
