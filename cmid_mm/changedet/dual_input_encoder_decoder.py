"""Change detector whose backbone takes both dates at once (open-cd ``DIEncoderDecoder``)."""
from __future__ import annotations

from mmseg.registry import MODELS
from torch import Tensor

from .siam_encoder_decoder import SiamEncoderDecoder


@MODELS.register_module()
class DIEncoderDecoder(SiamEncoderDecoder):
    """Dual-input change detector: ``backbone(img_from, img_to)`` -> (neck) -> decode head.

    For backbones that fuse the dates themselves (FC-EF, FC-Siam-diff/conc,
    SNUNet). The input is the pair stacked on channels, (B, 2*C, H, W) with
    image A first, as ``MultiImgPackSegInputs`` packs it. Losses, auxiliary
    heads, inference and post-processing are mmseg's ``EncoderDecoder``.

    Args:
        as :class:`SiamEncoderDecoder`, except that ``neck`` is optional and,
        when given, is called on the backbone's output alone.
    """

    requires_neck = False

    def extract_feat(self, inputs: Tensor) -> list[Tensor]:
        """(B, 2*C, H, W) -> the backbone's features of the pair (through the neck)."""
        img_from, img_to = self.split_pair(inputs)
        x = self.backbone(img_from, img_to)
        return self.neck(x) if self.with_neck else x
