"""The learnable mask token shared by CMID's students."""
import torch
import torch.nn as nn


class MaskTokenMixin:
    """Adds CMID's stage-0 mask token to a backbone.

    CMID's student sees block-masked images and, at the masking stage's
    resolution (stride 4), a learnable token is added at masked positions:
    ``x + token * mask`` (the reference's residual form) or, with
    ``replace=True``, SimMIM's ``x * (1 - mask) + token * mask``. The token is
    zero-initialised, so an untrained student equals the stock backbone.
    """

    mask_token: nn.Parameter
    replace: bool
    #: Stride of the last feature map, read by the views' location grid, the MIM
    #: decoder (``encoder_stride``) and the config checks (ResNet / Swin: 32).
    out_stride: int = 32
    #: Stride at which the mask is applied = the mask's ``model_patch_size``
    #: (ResNet / Swin: 4, after the stem / patch embedding).
    mask_stride: int = 4

    def _init_mask_token(self, channels: int, replace: bool) -> None:
        self.mask_token = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self.replace = replace

    def apply_mask_token(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Mix the token into a stage-0 map.

        Args:
            x (Tensor): Feature map (B, C, h, w).
            mask (Tensor): Block mask (B, h, w), 1 = masked.

        Returns:
            Tensor: (B, C, h, w).
        """
        if mask.shape[-2:] != x.shape[-2:]:
            raise ValueError(f'mask of size {tuple(mask.shape[-2:])} does not match the stage-0 '
                             f'feature map {tuple(x.shape[-2:])}: generate masks with '
                             f'model_patch_size equal to the backbone stride at stage 0 '
                             f'({self.mask_stride})')
        w = mask.unsqueeze(1).type_as(x)  # (B, 1, h, w)
        token = self.mask_token.type_as(x)
        if self.replace:
            return x * (1. - w) + token * w
        return x + token * w
