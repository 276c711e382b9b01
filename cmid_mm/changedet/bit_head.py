"""BIT decode head: bitemporal image transformer on semantic tokens (Chen et al., TGRS 2021).

Paper: "Remote Sensing Image Change Detection With Transformers", H. Chen,
Z. Qi, Z. Shi, IEEE TGRS 2021 (reference code: justchenhao/BIT_CD,
``BASE_Transformer``). The CMID reference evaluates change detection with this
network (token_len 4, encoder depth 1, decoder depth 8, |f1 - f2| fusion).
The module layout, argument names and parameter names follow open-cd 1.x's
``BITHead`` so that configs (and state dicts) move between the two.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule, build_norm_layer
from mmengine.model import ModuleList, Sequential
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.models.utils import Upsample
from mmseg.registry import MODELS
from torch import Tensor


class BITAttention(nn.Module):
    """Multi-head (cross-)attention of BIT: queries from ``x``, keys/values from ``ref``.

    q/k/v are bias-free projections ``in_dims -> embed_dims`` split into
    ``num_heads`` heads; the logits are scaled by ``in_dims ** -0.5`` (BIT's
    choice, not the usual per-head scale).
    """

    def __init__(self, in_dims: int, embed_dims: int, num_heads: int,
                 dropout_rate: float = 0., apply_softmax: bool = True) -> None:
        super().__init__()
        if embed_dims % num_heads:
            raise ValueError(f'BITHead: embed_dims={embed_dims} is not divisible by '
                             f'num_heads={num_heads}')
        self.num_heads = num_heads
        self.scale = in_dims**-0.5
        self.apply_softmax = apply_softmax
        self.to_q = nn.Linear(in_dims, embed_dims, bias=False)
        self.to_k = nn.Linear(in_dims, embed_dims, bias=False)
        self.to_v = nn.Linear(in_dims, embed_dims, bias=False)
        self.fc_out = nn.Sequential(nn.Linear(embed_dims, in_dims), nn.Dropout(dropout_rate))

    def forward(self, x: Tensor, ref: Tensor) -> Tensor:
        """x (B, N, C), ref (B, M, C) -> (B, N, C)."""
        b, n, _ = x.shape
        m = ref.shape[1]
        h = self.num_heads
        q = self.to_q(x).reshape(b, n, h, -1).transpose(1, 2)  # (B, h, N, d)
        k = self.to_k(ref).reshape(b, m, h, -1).transpose(1, 2)  # (B, h, M, d)
        v = self.to_v(ref).reshape(b, m, h, -1).transpose(1, 2)  # (B, h, M, d)
        attn = torch.matmul(q, k.transpose(-1, -2)) * self.scale  # (B, h, N, M)
        if self.apply_softmax:
            attn = attn.softmax(dim=-1)
        out = torch.matmul(attn, v).transpose(1, 2).flatten(2)  # (B, N, h*d)
        return self.fc_out(out)


class BITFeedForward(nn.Sequential):
    """Linear(dim, hidden) -> ReLU -> Dropout -> Linear(hidden, dim) -> Dropout."""

    def __init__(self, dim: int, hidden_dim: int, dropout_rate: float = 0.) -> None:
        super().__init__(
            nn.Linear(dim, hidden_dim), nn.ReLU(), nn.Dropout(dropout_rate),
            nn.Linear(hidden_dim, dim), nn.Dropout(dropout_rate))


class BITEncoderLayer(nn.Module):
    """Pre-norm self-attention + feed-forward over the 2L tokens of both dates."""

    def __init__(self, in_dims: int, embed_dims: int, num_heads: int, drop_rate: float,
                 norm_cfg: dict) -> None:
        super().__init__()
        self.attn = BITAttention(in_dims, embed_dims, num_heads, drop_rate)
        self.ff = BITFeedForward(in_dims, embed_dims, drop_rate)
        self.norm1 = build_norm_layer(norm_cfg, in_dims)[1]
        self.norm2 = build_norm_layer(norm_cfg, in_dims)[1]

    def forward(self, x: Tensor) -> Tensor:
        """x (B, 2L, C) -> (B, 2L, C)."""
        x_norm = self.norm1(x)
        x = self.attn(x_norm, x_norm) + x
        return self.ff(self.norm2(x)) + x


class BITDecoderLayer(nn.Module):
    """Pre-norm cross-attention (pixels query the tokens of their date) + feed-forward."""

    def __init__(self, in_dims: int, embed_dims: int, num_heads: int, drop_rate: float,
                 norm_cfg: dict) -> None:
        super().__init__()
        self.attn = BITAttention(in_dims, embed_dims, num_heads, drop_rate)
        self.ff = BITFeedForward(in_dims, embed_dims, drop_rate)
        self.norm1 = build_norm_layer(norm_cfg, in_dims)[1]
        self.norm1_ = build_norm_layer(norm_cfg, in_dims)[1]
        self.norm2 = build_norm_layer(norm_cfg, in_dims)[1]

    def forward(self, x: Tensor, tokens: Tensor) -> Tensor:
        """x (B, HW, C) pixels, tokens (B, L, C) -> (B, HW, C)."""
        x = self.attn(self.norm1(x), self.norm1_(tokens)) + x
        return self.ff(self.norm2(x)) + x


@MODELS.register_module()
class BITHead(BaseDecodeHead):
    """Bitemporal image transformer head.

    Input: the neck's fused level, the two dates concatenated on channels
    (``FeatureFusionNeck(policy='concat')``), (B, 2*in_channels, h, w).
    Per date: upsample by ``pre_upsample`` and a 3x3 conv to ``channels``
    -> (B, C, H, W); ``token_len`` semantic tokens by spatial attention
    (B, L, C); the 2L tokens of both dates go through ``enc_depth`` encoder
    layers (with a learned position embedding); each date's pixels then query
    its own tokens through ``dec_depth`` decoder layers; the change feature is
    ``|x1 - x2|``, upsampled by ``upsample_size`` and classified by
    ``conv_seg`` (mmseg ``BaseDecodeHead.cls_seg``).

    Args:
        in_channels: channels of *one* date's backbone feature.
        channels: token / decoder width (32 in BIT).
        embed_dims: attention inner width and feed-forward hidden width.
        enc_depth: number of transformer encoder layers.
        enc_with_pos: add a learned position embedding to the 2L tokens.
        dec_depth: number of transformer decoder layers.
        num_heads: attention heads.
        drop_rate: dropout inside attention and feed-forward.
        pool_size: with ``use_tokenizer=False``, tokens are a
            ``pool_size x pool_size`` pooled grid.
        pool_mode: ``'max'`` or ``'avg'`` pooling for that grid.
        use_tokenizer: learn semantic tokens by spatial attention (BIT).
        token_len: number of semantic tokens per date.
        pre_upsample: upsampling of the backbone feature before the head.
        upsample_size: upsampling of the change feature before ``conv_seg``.
        norm_cfg: norm of the transformer layers; default ``dict(type='LN')``.
        act_cfg: activation after the tokenizer and the 3x3 input convs;
            default ``dict(type='ReLU', inplace=True)`` (as open-cd).
        **kwargs: ``num_classes``, ``loss_decode``, ``align_corners``,
            ``dropout_ratio``... of mmseg ``BaseDecodeHead``.
    """

    def __init__(self,
                 in_channels: int = 256,
                 channels: int = 32,
                 embed_dims: int = 64,
                 enc_depth: int = 1,
                 enc_with_pos: bool = True,
                 dec_depth: int = 8,
                 num_heads: int = 8,
                 drop_rate: float = 0.,
                 pool_size: int = 2,
                 pool_mode: str = 'max',
                 use_tokenizer: bool = True,
                 token_len: int = 4,
                 pre_upsample: int = 2,
                 upsample_size: int = 4,
                 norm_cfg: dict | None = None,
                 act_cfg: dict | None = None,
                 **kwargs) -> None:
        super().__init__(in_channels, channels, **kwargs)
        norm_cfg = dict(type='LN') if norm_cfg is None else norm_cfg
        act_cfg = dict(type='ReLU', inplace=True) if act_cfg is None else act_cfg
        if not isinstance(in_channels, int):
            raise TypeError(f'BITHead: in_channels must be one int (channels of one date), '
                            f'got {in_channels!r}')
        if pool_mode not in ('max', 'avg'):
            raise ValueError(f"BITHead: pool_mode must be 'max' or 'avg', got {pool_mode!r}")
        self.norm_cfg = norm_cfg
        self.act_cfg = act_cfg
        self.embed_dims = embed_dims
        self.num_heads = num_heads
        self.use_tokenizer = use_tokenizer
        self.pool_size = pool_size
        self.pool_mode = pool_mode
        if use_tokenizer:
            self.token_len = token_len
            self.conv_att = ConvModule(
                self.channels, self.token_len, 1, conv_cfg=self.conv_cfg, act_cfg=act_cfg)
        else:
            self.token_len = pool_size * pool_size
        self.enc_with_pos = enc_with_pos
        if enc_with_pos:
            self.enc_pos_embedding = nn.Parameter(
                torch.randn(1, self.token_len * 2, self.channels))
        self.pre_process = Sequential(
            Upsample(scale_factor=pre_upsample, mode='bilinear',
                     align_corners=self.align_corners),
            ConvModule(self.in_channels, self.channels, 3, padding=1,
                       conv_cfg=self.conv_cfg, act_cfg=act_cfg))
        self.encoder = ModuleList([
            BITEncoderLayer(self.channels, embed_dims, num_heads, drop_rate, norm_cfg)
            for _ in range(enc_depth)
        ])
        self.decoder = ModuleList([
            BITDecoderLayer(self.channels, embed_dims, num_heads, drop_rate, norm_cfg)
            for _ in range(dec_depth)
        ])
        self.upsample = Upsample(scale_factor=upsample_size, mode='bilinear',
                                 align_corners=self.align_corners)

    def _semantic_tokens(self, x: Tensor) -> Tensor:
        """(B, C, H, W) -> (B, L, C): softmax(spatial attention) weighted sums."""
        b, c = x.shape[:2]
        att = self.conv_att(x).reshape(b, self.token_len, -1).softmax(dim=-1)  # (B, L, HW)
        return torch.einsum('bln,bcn->blc', att, x.reshape(b, c, -1))

    def _pooled_tokens(self, x: Tensor) -> Tensor:
        """(B, C, H, W) -> (B, p*p, C) by adaptive max/avg pooling."""
        pool = F.adaptive_max_pool2d if self.pool_mode == 'max' else F.adaptive_avg_pool2d
        x = pool(x, (self.pool_size, self.pool_size))
        return x.flatten(2).transpose(1, 2)

    def _forward_feature(self, inputs: list[Tensor]) -> Tensor:
        """Fused features -> change feature (B, C, H*up, W*up) before ``conv_seg``."""
        x = self._transform_inputs(inputs)  # (B, 2*C_in, h, w)
        if x.shape[1] != 2 * self.in_channels:
            raise ValueError(
                f'BITHead expects the two dates concatenated on channels '
                f"(FeatureFusionNeck(policy='concat')): {2 * self.in_channels} channels "
                f'for in_channels={self.in_channels}, but got {x.shape[1]}')
        x1, x2 = torch.chunk(x, 2, dim=1)
        x1, x2 = self.pre_process(x1), self.pre_process(x2)  # (B, C, H, W)
        tokenize = self._semantic_tokens if self.use_tokenizer else self._pooled_tokens
        tokens = torch.cat([tokenize(x1), tokenize(x2)], dim=1)  # (B, 2L, C)
        if self.enc_with_pos:
            tokens = tokens + self.enc_pos_embedding
        for layer in self.encoder:
            tokens = layer(tokens)
        token1, token2 = torch.chunk(tokens, 2, dim=1)  # 2 x (B, L, C)
        b, c, h, w = x1.shape
        x1 = x1.flatten(2).transpose(1, 2)  # (B, HW, C)
        x2 = x2.flatten(2).transpose(1, 2)
        for layer in self.decoder:
            x1 = layer(x1, token1)
            x2 = layer(x2, token2)
        x1 = x1.transpose(1, 2).reshape(b, c, h, w)
        x2 = x2.transpose(1, 2).reshape(b, c, h, w)
        return self.upsample(torch.abs(x1 - x2))

    def forward(self, inputs: list[Tensor]) -> Tensor:
        """Fused features -> change logits (B, num_classes, H*up, W*up)."""
        return self.cls_seg(self._forward_feature(inputs))
