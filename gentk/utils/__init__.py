from .checkpoint_io import (atomic_save, atomic_write_text, load_trusted_checkpoint,
                            load_weights, state_dict_from,
                            weights_needed_to_generate)
from .image import (colorize_labels, default_palette, image_grid, to_uint8_image,
                    write_png)
from .label_ids import check_ignore_index

__all__ = ['atomic_save', 'atomic_write_text', 'check_ignore_index',
           'colorize_labels', 'default_palette', 'image_grid',
           'load_trusted_checkpoint', 'load_weights', 'state_dict_from',
           'to_uint8_image', 'weights_needed_to_generate', 'write_png']
