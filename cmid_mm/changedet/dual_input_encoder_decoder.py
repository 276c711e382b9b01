"""Change detector whose backbone takes both dates at once (open-cd ``DIEncoderDecoder``)."""
from __future__ import annotations

import torch
from mmengine.config import ConfigDict
from mmseg.models.segmentors import EncoderDecoder
from mmseg.registry import MODELS
from torch import Tensor


@MODELS.register_module()
class DIEncoderDecoder(EncoderDecoder):
    """Dual-input change detector: ``backbone(img_from, img_to)`` -> (neck) -> decode head.

    For backbones that fuse the dates themselves (FC-EF, FC-Siam-diff/conc).
    The input is the pair stacked on channels, (B, 2*C, H, W) with image A
    first, as ``MultiImgPackSegInputs`` packs it. Losses, auxiliary heads,
    inference and post-processing are mmseg's :class:`EncoderDecoder`.

    Args:
        backbone, decode_head, neck, auxiliary_head, train_cfg, test_cfg,
        data_preprocessor, pretrained, init_cfg: as mmseg ``EncoderDecoder``
            (``neck`` optional, called on the backbone's output).
        backbone_inchannels: channels ``C`` of one image (3 for RGB).
    """

    def __init__(self, backbone: dict, decode_head: dict, neck: dict | None = None,
                 auxiliary_head: dict | list | None = None, train_cfg: dict | None = None,
                 test_cfg: dict | None = None, data_preprocessor: dict | None = None,
                 pretrained: str | None = None, init_cfg: dict | list | None = None,
                 backbone_inchannels: int = 3) -> None:
        super().__init__(backbone=backbone, decode_head=decode_head, neck=neck,
                         auxiliary_head=auxiliary_head, train_cfg=train_cfg,
                         test_cfg=test_cfg, data_preprocessor=data_preprocessor,
                         pretrained=pretrained, init_cfg=init_cfg)
        self.backbone_inchannels = backbone_inchannels
        self.train_cfg = ConfigDict(train_cfg) if train_cfg is not None else None
        self.test_cfg = ConfigDict(test_cfg) if test_cfg is not None else None

    def extract_feat(self, inputs: Tensor) -> list[Tensor]:
        """(B, 2*C, H, W) -> the backbone's features of the pair (through the neck)."""
        c = self.backbone_inchannels
        if inputs.dim() != 4 or inputs.shape[1] != 2 * c:
            raise ValueError(
                f'DIEncoderDecoder expects the two images stacked on channels, '
                f'(B, {2 * c}, H, W) for backbone_inchannels={c}, but got '
                f'{tuple(inputs.shape)}; pack the pair with MultiImgPackSegInputs')
        img_from, img_to = torch.split(inputs, c, dim=1)  # 2 x (B, C, H, W)
        x = self.backbone(img_from, img_to)
        return self.neck(x) if self.with_neck else x
