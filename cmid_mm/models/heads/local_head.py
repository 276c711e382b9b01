"""DINO-style projection head applied to matched positions (CMID local branch)."""
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmpretrain.registry import MODELS


@MODELS.register_module()
class CMIDLocalHead(BaseModule):
    """DINO head over positions, written with 1x1 ``Conv1d``.

    ``DINOHead`` of facebookresearch/dino works on (B, C) vectors; CMID runs it
    on K matched positions at once, so every linear layer is a ``Conv1d`` with
    kernel 1 over (B, C, K)::

        Conv1d(in, hid) [+BN1d] + GELU -> (num_layers - 2) x [Conv1d(hid, hid) [+BN1d] + GELU]
        -> Conv1d(hid, bottleneck) -> L2-normalise over C
        -> weight-normalised Conv1d(bottleneck, out_dim, bias=False), weight_g fixed to 1

    Args:
        in_channels (int): Channels of the backbone map.
        out_channels (int): Output dimension (DINO "out_dim"). Defaults to 2048.
        hid_channels (int): Hidden dimension. Defaults to 2048.
        bottleneck_channels (int): Bottleneck dimension. Defaults to 256.
        num_layers (int): Number of MLP layers (>= 1). Defaults to 3.
        use_bn (bool): BatchNorm1d after hidden layers (True for ResNet,
            False for Swin in the reference). Defaults to True.
        norm_last_layer (bool): Freeze ``weight_g`` of the last layer at 1.
            Defaults to True.

    Initialisation: every ``Conv1d`` keeps PyTorch's default (Kaiming-uniform
    weights, uniform bias), as in the reference's ``LocalHead``, whose DINO
    truncated-normal init is written for ``nn.Linear`` only and so never
    reaches its ``Conv1d`` layers. A configured ``init_cfg`` still applies.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int = 2048,
                 hid_channels: int = 2048,
                 bottleneck_channels: int = 256,
                 num_layers: int = 3,
                 use_bn: bool = True,
                 norm_last_layer: bool = True,
                 init_cfg: dict | None = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if num_layers < 1:
            raise ValueError(f'num_layers must be >= 1, got {num_layers}')
        layers: list[nn.Module] = []
        dims = [in_channels] + [hid_channels] * (num_layers - 1)
        for c_in, c_out in zip(dims[:-1], dims[1:]):
            layers.append(nn.Conv1d(c_in, c_out, 1))
            if use_bn:
                layers.append(nn.BatchNorm1d(c_out))
            layers.append(nn.GELU())
        layers.append(nn.Conv1d(dims[-1], bottleneck_channels, 1))
        self.mlp = nn.Sequential(*layers)
        self.last_layer = nn.utils.parametrizations.weight_norm(
            nn.Conv1d(bottleneck_channels, out_channels, 1, bias=False))
        self.last_layer.parametrizations.weight.original0.data.fill_(1)
        if norm_last_layer:
            self.last_layer.parametrizations.weight.original0.requires_grad = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, in_channels, K) -> (B, out_channels, K)."""
        x = self.mlp(x)
        x = F.normalize(x, dim=1, p=2)
        return self.last_layer(x)
