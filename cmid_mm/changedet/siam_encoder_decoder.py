"""Siamese encoder-decoder change detector (open-cd ``SiamEncoderDecoder`` on mmseg)."""
from __future__ import annotations

import torch
from mmengine.config import ConfigDict
from mmseg.models.segmentors import EncoderDecoder
from mmseg.registry import MODELS
from torch import Tensor


@MODELS.register_module()
class SiamEncoderDecoder(EncoderDecoder):
    """Change detector: one shared backbone on both dates, a fusion neck, a decode head.

    The input is the two co-registered images stacked on the channel axis, as
    ``MultiImgPackSegInputs`` packs them: (B, 2*C, H, W) with image A ("from",
    time 1) in the first ``C`` channels and image B ("to", time 2) in the next
    ``C``. :meth:`extract_feat` splits them, runs the *same* backbone (shared
    weights, two separate calls as in open-cd, so BatchNorm statistics are per
    date) and fuses level by level with the neck. Everything else — losses,
    auxiliary heads, whole/slide inference, flip/padding post-processing and
    ``pred_sem_seg`` — is mmseg's :class:`EncoderDecoder`, unchanged.

    Args:
        backbone, decode_head, neck, auxiliary_head, train_cfg, test_cfg,
        data_preprocessor, pretrained, init_cfg: as in mmseg ``EncoderDecoder``;
            ``neck`` is required (e.g. ``FeatureFusionNeck``).
        backbone_inchannels: channels ``C`` of one image (3 for RGB).
    """

    requires_neck = True

    def __init__(self,
                 backbone: dict,
                 decode_head: dict,
                 neck: dict | None = None,
                 auxiliary_head: dict | list | None = None,
                 train_cfg: dict | None = None,
                 test_cfg: dict | None = None,
                 data_preprocessor: dict | None = None,
                 pretrained: str | None = None,
                 init_cfg: dict | list | None = None,
                 backbone_inchannels: int = 3) -> None:
        if neck is None and self.requires_neck:
            raise ValueError('SiamEncoderDecoder needs a `neck` that fuses the features of '
                             'the two images, e.g. dict(type="FeatureFusionNeck", '
                             'policy="concat"); got neck=None')
        super().__init__(
            backbone=backbone,
            decode_head=decode_head,
            neck=neck,
            auxiliary_head=auxiliary_head,
            train_cfg=train_cfg,
            test_cfg=test_cfg,
            data_preprocessor=data_preprocessor,
            pretrained=pretrained,
            init_cfg=init_cfg)
        self.backbone_inchannels = backbone_inchannels
        # mmseg reads `test_cfg.mode`: accept plain dicts as well as config dicts
        self.train_cfg = ConfigDict(train_cfg) if train_cfg is not None else None
        self.test_cfg = ConfigDict(test_cfg) if test_cfg is not None else None

    def split_pair(self, inputs: Tensor) -> tuple[Tensor, Tensor]:
        """(B, 2*C, H, W) -> image A, image B, each (B, C, H, W)."""
        c = self.backbone_inchannels
        if inputs.dim() != 4 or inputs.shape[1] != 2 * c:
            raise ValueError(
                f'{type(self).__name__} expects the two images stacked on channels, '
                f'(B, {2 * c}, H, W) for backbone_inchannels={c}, but got '
                f'{tuple(inputs.shape)}; pack the pair with MultiImgPackSegInputs')
        img_from, img_to = torch.split(inputs, c, dim=1)
        return img_from, img_to

    def extract_feat(self, inputs: Tensor) -> list[Tensor]:
        """(B, 2*C, H, W) -> fused multi-level features from the neck."""
        img_from, img_to = self.split_pair(inputs)
        feat_from = self.backbone(img_from)
        feat_to = self.backbone(img_to)
        return self.neck(feat_from, feat_to)
