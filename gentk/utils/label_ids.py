"""Label ids against the classes: the ignore index's one rule (it must not
also be a class id), and the ids of a map that no class takes."""
from typing import List, Optional

import torch


def check_ignore_index(num_classes: int, ignore_index: Optional[int],
                       owner: str) -> None:
    """Raise if ``ignore_index`` lies in ``[0, num_classes)``.

    Such an id would be both a class and "no class": its pixels would be
    encoded as nothing (one-hot all zero) and left out of losses, silently
    erasing that class. With more than 255 classes the default 255 is a
    class id, so those datasets need another ignore index (e.g. -1, or
    65535 for 16-bit label maps).
    """
    if ignore_index is not None and 0 <= ignore_index < num_classes:
        raise ValueError(
            f'{owner}: ignore_index={ignore_index} is also a class id '
            f'(num_classes={num_classes}); expected an ignore_index outside '
            f'[0, {num_classes}), e.g. -1 or 65535 (and a crop '
            'label_pad_val to match)')


def ids_outside(label: torch.Tensor, num_classes: int,
                ignore_index: Optional[int] = None) -> List[int]:
    """The distinct ids of ``label`` outside ``[0, num_classes)``, ignoring
    ``ignore_index``, sorted; empty where every id is a class (or ignored).
    Callers raise with their own message: such ids would otherwise be
    encoded or scored as nothing, silently."""
    outside = (label < 0) | (label >= num_classes)
    if ignore_index is not None:
        outside &= label != ignore_index
    return torch.unique(label[outside]).tolist() if outside.any() else []
