"""The ignore index's one rule: it must not also be a class id."""
from typing import Optional


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
