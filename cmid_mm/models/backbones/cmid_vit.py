"""ViT student of CMID: stock mmpretrain VisionTransformer plus a patch mask token."""
from collections.abc import Sequence

import torch
from mmpretrain.models.backbones import VisionTransformer
from mmpretrain.models.utils import resize_pos_embed
from mmpretrain.registry import MODELS

from .mask_token import MaskTokenMixin


@MODELS.register_module()
class CMIDViT(MaskTokenMixin, VisionTransformer):
    """mmpretrain ``VisionTransformer`` with CMID's mask token on the patch embeddings.

    Our own class because no stock ViT does all of: a mask token on *every*
    masked patch without dropping tokens (mmpretrain's ``MAEViT`` drops them,
    CMID's local branch needs all positions), patch tokens returned as a map,
    and the stock key layout.

    Masking follows the reference's iBOT-style ViT (``official-CMID``
    ``Pretrain/models/vit.py``, ``mask_model``): masked patch embeddings are
    **replaced** by the token (``replace=True`` by default) **before** the CLS
    token is prepended and the position embedding is added. So a masked
    position still carries its position (the token says "masked", the
    position embedding says "where"), which the reconstruction and the
    position-matched local loss both need; a token added after the position
    embedding would erase the position of masked patches.

    Output: the patch tokens after the final norm as a (B, C, h, w) map at
    stride ``patch_size`` (``out_type='featmap'`` is forced; no token is
    dropped). What the global branch sees is ``global_feature``:

    - ``'pool'`` (default): the projector's average pool of the patch map,
      as for the ResNet / Swin students, so every student feeds the
      projector alike (the CLS token still attends, but no loss reads it);
    - ``'cls'``: the final CLS token (:meth:`forward_with_cls`; :class:`CMID`
      hands it to the projector as a 1 x 1 map, whose average pool is the
      token itself), as DINO / iBOT / MoCo v3 do with a ViT.

    The measurement behind the default is in docs/benchmarks.md ("CLS token
    or pooled map"). Apart from ``mask_token`` the state dict is key-for-key
    that of the stock ``VisionTransformer`` in both modes; the EMA teacher
    has drop path zeroed by :class:`CMID`.

    Args:
        arch (str | dict): ViT architecture ('small', 'base', ... or a dict).
        replace (bool): Replace masked embeddings (reference, default) instead
            of adding the token.
        global_feature (str): ``'pool'`` or ``'cls'`` (needs
            ``with_cls_token=True``), see above.
        **kwargs: Arguments of :class:`mmpretrain.models.VisionTransformer`.
    """

    GLOBAL_FEATURES = ('pool', 'cls')

    def __init__(self, arch: str | dict = 'base', replace: bool = True,
                 global_feature: str = 'pool', **kwargs) -> None:
        out_type = kwargs.pop('out_type', 'featmap')
        if out_type != 'featmap':
            raise ValueError(f"CMIDViT: out_type must be 'featmap' (CMID needs the patch map), "
                             f'got {out_type!r}')
        if global_feature not in self.GLOBAL_FEATURES:
            raise ValueError(f'CMIDViT: model.backbone.global_feature must be one of '
                             f'{self.GLOBAL_FEATURES}, got {global_feature!r}')
        if global_feature == 'cls' and not kwargs.get('with_cls_token', True):
            raise ValueError("CMIDViT: model.backbone.global_feature='cls' needs "
                             'model.backbone.with_cls_token=True')
        super().__init__(arch=arch, out_type='featmap', **kwargs)
        self._init_mask_token(self.embed_dims, replace)
        self.patch_size = int(self.patch_embed.projection.stride[0])
        self.global_feature = global_feature

    @property
    def out_stride(self) -> int:
        """Stride of the returned map: the patch size."""
        return self.patch_size

    @property
    def mask_stride(self) -> int:
        """Stride at which the mask is applied (the mask's ``model_patch_size``): patch size."""
        return self.patch_size

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None,
                with_cls: bool = False):
        """Features of (masked) images.

        Args:
            x (Tensor): Images (B, C, H, W).
            mask (Tensor, optional): Block mask (B, H/p, W/p) at patch
                resolution; None runs the stock forward.
            with_cls (bool): Return :meth:`forward_with_cls`'s pair (through
                ``__call__``, so a compiled backbone stays compiled).

        Returns:
            tuple[Tensor]: Patch maps (B, C, H/p, W/p) of the ``out_indices``
            layers (``with_cls``: and the CLS token).
        """
        if with_cls:
            return self.forward_with_cls(x, mask)
        if mask is None:
            return super().forward(x)
        return self._forward_tokens(x, mask)[0]

    def forward_with_cls(self, x: torch.Tensor, mask: torch.Tensor | None = None
                         ) -> tuple[Sequence[torch.Tensor], torch.Tensor]:
        """:meth:`forward`'s maps and the final CLS token (B, C), after the final norm.

        Args:
            x (Tensor): Images (B, C, H, W).
            mask (Tensor, optional): Block mask at patch resolution, or None.

        Returns:
            tuple: (the maps of :meth:`forward`, the CLS token (B, C)).
        """
        if self.cls_token is None:
            raise ValueError('CMIDViT.forward_with_cls: the backbone has no CLS token '
                             '(with_cls_token=False)')
        outs, tokens = self._forward_tokens(x, mask)
        return outs, tokens[:, 0]

    def _forward_tokens(self, x: torch.Tensor, mask: torch.Tensor | None
                        ) -> tuple[tuple[torch.Tensor, ...], torch.Tensor]:
        """The stock forward with the mask token (if ``mask``); also the last tokens."""
        B = x.shape[0]
        x, hw = self.patch_embed(x)  # (B, L, C)
        if mask is not None:
            C = x.shape[-1]
            x = self.apply_mask_token(x.transpose(1, 2).reshape(B, C, *hw), mask)
            x = x.flatten(2).transpose(1, 2)
        if self.cls_token is not None:
            x = torch.cat((self.cls_token.expand(B, -1, -1), x), dim=1)
        x = x + resize_pos_embed(self.pos_embed, self.patch_resolution, hw,
                                 mode=self.interpolate_mode,
                                 num_extra_tokens=self.num_extra_tokens)
        x = self.pre_norm(self.drop_after_pos(x))
        outs = []
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i == len(self.layers) - 1 and self.final_norm:
                x = self.ln1(x)
            if i in self.out_indices:
                outs.append(self._format_output(x, hw))
        return tuple(outs), x
