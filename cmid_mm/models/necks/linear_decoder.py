"""Pixel-shuffle decoder of CMID's MIM branch (any number of bands)."""
import torch.nn as nn
from mmpretrain.models.necks import SimMIMLinearDecoder
from mmpretrain.registry import MODELS


@MODELS.register_module()
class CMIDLinearDecoder(SimMIMLinearDecoder):
    """mmpretrain's ``SimMIMLinearDecoder`` with a configurable band count.

    ``Conv2d(in_channels, encoder_stride**2 * out_channels, 1) + PixelShuffle``;
    the stock class hard-codes ``out_channels=3``, which N-band (e.g. 13-band
    Sentinel-2) pretraining cannot use.

    Args:
        in_channels (int): Channels of the last backbone map.
        encoder_stride (int): Total stride of the backbone (32).
        out_channels (int): Image bands to reconstruct. Defaults to 3.
    """

    def __init__(self, in_channels: int, encoder_stride: int, out_channels: int = 3) -> None:
        super().__init__(in_channels=in_channels, encoder_stride=encoder_stride)
        self.decoder[0] = nn.Conv2d(in_channels, encoder_stride**2 * out_channels, kernel_size=1)
