"""Swin window attention through ``F.scaled_dot_product_attention`` (opt-in, issue 21)."""
import torch
import torch.nn.functional as F
from mmpretrain.models.utils.attention import WindowMSA
from torch import nn


class SDPAWindowMSA(WindowMSA):
    """mmpretrain ``WindowMSA`` whose attention is one fused SDPA call.

    Our own: mmpretrain's ``WindowMSA.forward`` (installed
    ``mmpretrain/models/utils/attention.py``) computes ``softmax(q k^T *
    scale + bias [+ shift mask]) v`` with explicit matmuls. This class keeps
    the parameters and buffers of ``WindowMSA`` (same state-dict keys) and
    passes the relative position bias, plus the shifted-window mask if any,
    as a float ``attn_mask`` to ``F.scaled_dot_product_attention``. The
    windows of one image are folded into the head axis, so the mask
    broadcasts over images and SDPA gets 4-D inputs.
    """

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Attention inside windows.

        Args:
            x (Tensor): Window tokens (num_windows * B, N, C).
            mask (Tensor, optional): Shift mask (num_windows, N, N), values
                in (-inf, 0].

        Returns:
            Tensor: (num_windows * B, N, C).
        """
        B_, N, C = x.shape
        nh = self.num_heads
        qkv = self.qkv(x).reshape(B_, N, 3, nh, C // nh).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]  # (B_, nH, N, d)
        bias = self.relative_position_bias_table[self.relative_position_index.view(-1)].view(
            N, N, -1).permute(2, 0, 1)  # (nH, N, N)
        nw = 1 if mask is None else mask.shape[0]
        attn_mask = bias.unsqueeze(0) if mask is None else bias.unsqueeze(0) + mask.unsqueeze(1)
        attn_mask = attn_mask.reshape(1, nw * nh, N, N).to(q.dtype)
        shape = (B_ // nw, nw * nh, N, -1)
        out = F.scaled_dot_product_attention(
            q.reshape(shape), k.reshape(shape), v.reshape(shape), attn_mask=attn_mask,
            dropout_p=self.attn_drop.p if self.training else 0., scale=self.scale)
        x = out.reshape(B_, nh, N, -1).transpose(1, 2).reshape(B_, N, C)
        return self.proj_drop(self.proj(x))


def use_sdpa_window_attention(model: nn.Module) -> int:
    """Switch every ``WindowMSA`` of ``model`` to :class:`SDPAWindowMSA` in place.

    The class of each module is changed, nothing else: parameters, buffers
    and state-dict keys stay the same.

    Args:
        model (nn.Module): e.g. an mmpretrain ``SwinTransformer``.

    Returns:
        int: Number of modules switched.
    """
    n = 0
    for m in model.modules():
        if type(m) is WindowMSA:
            m.__class__ = SDPAWindowMSA
            n += 1
    return n
