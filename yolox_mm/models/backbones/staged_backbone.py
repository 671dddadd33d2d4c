"""What CSPDarknet and Darknet share: a stem and stages run in sequence,
some of them returned, the first ones frozen on request."""
from typing import List, Tuple

from mmengine.model import BaseModule
from torch import Tensor
from torch.nn.modules.batchnorm import _BatchNorm


class StagedBackbone(BaseModule):
    """A backbone whose children named in :attr:`layers` (``'stem'``,
    ``'stage1'``, ...) run one after the other.

    Subclasses set, in ``__init__``:

    * ``layers`` (list[str]): child names in running order;
    * ``out_indices`` (tuple[int]): indices into ``layers`` whose outputs
      :meth:`forward` returns;
    * ``frozen_stages`` (int): the first ``frozen_stages + 1`` layers (stem
      included) are kept in eval mode without gradients; -1 freezes none;
    * ``norm_eval`` (bool): keep every BatchNorm in eval mode in training.
    """

    layers: List[str]
    out_indices: Tuple[int, ...]
    frozen_stages: int
    norm_eval: bool

    def _freeze_stages(self) -> None:
        for name in self.layers[:self.frozen_stages + 1]:
            layer = getattr(self, name)
            layer.eval()
            for param in layer.parameters():
                param.requires_grad = False

    def train(self, mode: bool = True) -> 'StagedBackbone':
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, _BatchNorm):
                    m.eval()
        return self

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        """Feature maps of the layers in ``out_indices``, in order; ``x`` is
        ``[B, 3, H, W]``."""
        outs = []
        for i, name in enumerate(self.layers):
            x = getattr(self, name)(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)
