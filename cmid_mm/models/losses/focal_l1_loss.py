"""Focal L1 loss of A2MIM, used by CMID for masked-pixel reconstruction."""

import torch
import torch.nn as nn
from mmpretrain.registry import MODELS


def focal_l1_loss(pred: torch.Tensor,
                  target: torch.Tensor,
                  alpha: float = 0.2,
                  gamma: float = 1.0,
                  activate: str = 'sigmoid',
                  residual: bool = False) -> torch.Tensor:
    """Element-wise focal L1 loss (no reduction).

    ``l = |pred - target|``; ``loss = l * (2 * sigmoid(alpha * l) - 1) ** gamma``
    (``activate='sigmoid'``) or ``l * tanh(alpha * l) ** gamma`` (``'tanh'``);
    ``residual=True`` adds ``l`` back. This is A2MIM's ``focal_l1_loss`` as the
    CMID reference calls it (alpha 0.2, gamma 1, sigmoid, no residual).

    Args:
        pred (Tensor): Prediction of any shape.
        target (Tensor): Target of the same shape.

    Returns:
        Tensor: The loss of the same shape as ``pred``.
    """
    if activate not in ('sigmoid', 'tanh'):
        raise ValueError(f"activate must be 'sigmoid' or 'tanh', got {activate!r}")
    l1 = (pred - target).abs()
    if activate == 'sigmoid':
        factor = 2. * torch.sigmoid(alpha * l1) - 1.
    else:
        factor = torch.tanh(alpha * l1)
    loss = l1 * factor.pow(gamma)
    if residual:
        loss = loss + l1
    return loss


@MODELS.register_module()
class FocalL1Loss(nn.Module):
    """Focal L1 loss (A2MIM, Li et al. 2022), as used by CMID's MIM branch.

    Args:
        alpha (float): Scale inside the activation. Defaults to 0.2.
        gamma (float): Focusing exponent. Defaults to 1.0.
        activate (str): ``'sigmoid'`` or ``'tanh'``. Defaults to ``'sigmoid'``.
        residual (bool): Add the plain L1 term back. Defaults to False.
        reduction (str): ``'none'``, ``'mean'`` or ``'sum'``. Defaults to ``'mean'``.
        loss_weight (float): Weight of the loss. Defaults to 1.0.
    """

    def __init__(self,
                 alpha: float = 0.2,
                 gamma: float = 1.0,
                 activate: str = 'sigmoid',
                 residual: bool = False,
                 reduction: str = 'mean',
                 loss_weight: float = 1.0) -> None:
        super().__init__()
        if reduction not in ('none', 'mean', 'sum'):
            raise ValueError(f"reduction must be 'none', 'mean' or 'sum', got {reduction!r}")
        if activate not in ('sigmoid', 'tanh'):
            raise ValueError(f"activate must be 'sigmoid' or 'tanh', got {activate!r}")
        self.alpha = alpha
        self.gamma = gamma
        self.activate = activate
        self.residual = residual
        self.reduction = reduction
        self.loss_weight = loss_weight

    def forward(self,
                pred: torch.Tensor,
                target: torch.Tensor,
                weight: torch.Tensor | None = None) -> torch.Tensor:
        """Compute the loss.

        Args:
            pred (Tensor): Prediction, e.g. (B, C, H, W).
            target (Tensor): Target of the same shape.
            weight (Tensor, optional): Element-wise weight broadcastable to
                ``pred``. With ``reduction='mean'`` the weighted sum is divided
                by the number of elements (mmdet/mmpretrain convention).

        Returns:
            Tensor: Scalar for ``'mean'``/``'sum'``, else the element-wise loss.
        """
        loss = focal_l1_loss(pred, target, self.alpha, self.gamma, self.activate,
                             self.residual)
        if weight is not None:
            loss = loss * weight
        if self.reduction == 'mean':
            loss = loss.mean()
        elif self.reduction == 'sum':
            loss = loss.sum()
        return self.loss_weight * loss
