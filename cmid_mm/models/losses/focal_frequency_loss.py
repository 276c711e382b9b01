"""Focal frequency loss (Jiang et al., ICCV 2021), used by CMID's MIM branch."""
import torch
import torch.nn as nn
from mmpretrain.registry import MODELS


def _spectrum(x: torch.Tensor) -> torch.Tensor:
    """2-D orthonormal FFT as a real tensor (B, C, H, W) -> (B, C, H, W, 2)."""
    freq = torch.fft.fft2(x, norm='ortho')
    return torch.stack([freq.real, freq.imag], dim=-1)


@MODELS.register_module()
class FocalFrequencyLoss(nn.Module):
    """Focal frequency loss.

    Follows ``FocalFrequencyLoss`` of EndlessSora/focal-frequency-loss (the
    version that CMID's reference calls, patch_factor 1): the squared spectrum
    distance weighted by a detached, normalised "focal" matrix
    ``w = |dF| ** alpha`` (optionally ``log(w + 1)``), divided by its maximum
    (over the whole batch if ``batch_matrix`` else per image and channel),
    NaN set to 0, clamped to [0, 1]. The FFT always runs in fp32, also under
    AMP, because half-precision FFTs lose the high-frequency terms this loss
    is about.

    Args:
        loss_weight (float): Weight of the loss. Defaults to 1.0.
        alpha (float): Exponent of the focal matrix. Defaults to 1.0.
        ave_spectrum (bool): Average the spectra over the batch first.
            Defaults to False.
        log_matrix (bool): Apply ``log(w + 1)`` to the focal matrix.
            Defaults to False.
        batch_matrix (bool): Normalise the focal matrix by its batch maximum.
            Defaults to False.
    """

    def __init__(self,
                 loss_weight: float = 1.0,
                 alpha: float = 1.0,
                 ave_spectrum: bool = False,
                 log_matrix: bool = False,
                 batch_matrix: bool = False) -> None:
        super().__init__()
        self.loss_weight = loss_weight
        self.alpha = alpha
        self.ave_spectrum = ave_spectrum
        self.log_matrix = log_matrix
        self.batch_matrix = batch_matrix

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Compute the loss.

        Args:
            pred (Tensor): Prediction (B, C, H, W).
            target (Tensor): Target (B, C, H, W).

        Returns:
            Tensor: Scalar loss (fp32).
        """
        return self.loss_map(pred, target).mean()

    def loss_map(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The weighted spectrum distance before the mean: ``forward() == loss_map().mean()``.

        Args:
            pred (Tensor): Prediction (B, C, H, W).
            target (Tensor): Target (B, C, H, W).

        Returns:
            Tensor: (B', C, H, W) fp32, ``B' = 1`` with ``ave_spectrum`` else B; its
            mean over (0, 2, 3) divided by C is band ``c``'s share of the loss.
        """
        if pred.shape != target.shape or pred.dim() != 4:
            raise ValueError('FocalFrequencyLoss expects two (B, C, H, W) tensors of the '
                             f'same shape, got {tuple(pred.shape)} and {tuple(target.shape)}')
        with torch.autocast(device_type=pred.device.type, enabled=False):
            pred_freq = _spectrum(pred.float())
            target_freq = _spectrum(target.float())
            if self.ave_spectrum:
                pred_freq = pred_freq.mean(0, keepdim=True)
                target_freq = target_freq.mean(0, keepdim=True)
            # (B, C, H, W): squared distance |dF|^2 of the complex spectra
            dist = (pred_freq - target_freq).pow(2).sum(-1)
            with torch.no_grad():
                weight = dist.sqrt().pow(self.alpha)
                if self.log_matrix:
                    weight = torch.log(weight + 1.0)
                if self.batch_matrix:
                    weight = weight / weight.max()
                else:
                    weight = weight / weight.amax(dim=(-2, -1), keepdim=True)
                weight = torch.nan_to_num(weight, nan=0.0).clamp(0.0, 1.0)
            return weight * dist * self.loss_weight
