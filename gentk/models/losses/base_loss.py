"""The contract every gentk loss keeps.

A loss is an ``nn.Module`` called with explicit tensors. It applies its own
``loss_weight`` and names its log key ``loss_name``; algorithms sum (and
back-propagate) only the log entries whose key starts with ``loss_``, so the
name must start with it.
"""
from typing import Optional

from torch import nn


class BaseLoss(nn.Module):
    """Holds ``loss_weight`` and the log key ``loss_name``.

    Subclasses set ``default_loss_name``; a config may override the name (for
    example to log two L1 terms of one algorithm under different keys).
    """

    default_loss_name = 'loss'

    def __init__(self, loss_weight: float, loss_name: Optional[str] = None):
        super().__init__()
        name = self.default_loss_name if loss_name is None else loss_name
        if not name.startswith('loss_'):
            raise ValueError(
                f"loss_name must start with 'loss_' (only those log keys are "
                f'back-propagated), got {name!r}')
        self.loss_weight = float(loss_weight)
        self._loss_name = name

    @property
    def loss_name(self) -> str:
        """The log key of this loss; starts with ``loss_``."""
        return self._loss_name

    def extra_repr(self) -> str:
        return f'loss_weight={self.loss_weight}, loss_name={self.loss_name!r}'
