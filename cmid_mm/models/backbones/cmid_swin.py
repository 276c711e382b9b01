"""Swin student of CMID: stock mmpretrain SwinTransformer plus a mask token."""
from collections.abc import Sequence

import torch
from mmpretrain.models.backbones import SwinTransformer
from mmpretrain.models.utils import resize_pos_embed
from mmpretrain.registry import MODELS

from ..utils.sdpa_window_msa import use_sdpa_window_attention
from .mask_token import MaskTokenMixin


@MODELS.register_module()
class CMIDSwinTransformer(MaskTokenMixin, SwinTransformer):
    """mmpretrain ``SwinTransformer`` with CMID's mask token after patch embedding.

    Unlike mmpretrain's ``SimMIMSwinTransformer`` (which replaces masked
    tokens), CMID adds the token (``x + token * mask``) by default. Apart from
    ``mask_token`` the state dict is key-for-key that of the stock class.

    Args:
        replace (bool): SimMIM-style replacement instead of addition.
            Defaults to False.
        sdpa_window_attention (bool): Compute the window attention with
            ``F.scaled_dot_product_attention`` (:class:`SDPAWindowMSA`, same
            parameters and keys; mmpretrain's ``WindowMSA`` uses explicit
            matmuls). Defaults to False (the stock path, unchanged).
        **kwargs: Arguments of :class:`mmpretrain.models.SwinTransformer`.
    """

    def __init__(self, arch: str | dict = 'B', replace: bool = False,
                 sdpa_window_attention: bool = False, **kwargs) -> None:
        super().__init__(arch=arch, **kwargs)
        self._init_mask_token(self.embed_dims, replace)
        if not isinstance(sdpa_window_attention, bool):
            raise TypeError('CMIDSwinTransformer: sdpa_window_attention must be True or False, '
                            f'got {sdpa_window_attention!r}')
        if sdpa_window_attention:
            use_sdpa_window_attention(self)

    def forward(self, x: torch.Tensor,
                mask: torch.Tensor | None = None) -> Sequence[torch.Tensor]:
        """Features of (masked) images.

        Args:
            x (Tensor): Images (B, C, H, W).
            mask (Tensor, optional): Block mask (B, H/4, W/4); None runs the
                stock forward.

        Returns:
            tuple[Tensor]: Maps (B, C_i, h_i, w_i) of the ``out_indices`` stages.
        """
        if mask is None:
            return super().forward(x)
        x, hw_shape = self.patch_embed(x)  # (B, L, C)
        B, L, C = x.shape
        x = self.apply_mask_token(x.transpose(1, 2).reshape(B, C, *hw_shape), mask)
        x = x.flatten(2).transpose(1, 2)  # (B, L, C)
        if self.use_abs_pos_embed:
            x = x + resize_pos_embed(self.absolute_pos_embed, self.patch_resolution, hw_shape,
                                     self.interpolate_mode, self.num_extra_tokens)
        x = self.drop_after_pos(x)
        outs = []
        for i, stage in enumerate(self.stages):
            x, hw_shape = stage(x, hw_shape, do_downsample=self.out_after_downsample)
            if i in self.out_indices:
                out = getattr(self, f'norm{i}')(x)
                outs.append(out.view(-1, *hw_shape, self.num_features[i]).permute(
                    0, 3, 1, 2).contiguous())
            if stage.downsample is not None and not self.out_after_downsample:
                x, hw_shape = stage.downsample(x, hw_shape)
        return tuple(outs)
