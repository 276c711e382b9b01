"""Reconstruction head of CMID's masked-image-modelling branch."""
import torch
from mmengine.model import BaseModule
from mmpretrain.registry import MODELS


def upsample_mask(mask: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Nearest-upsample a block mask to pixels.

    Args:
        mask (Tensor): (B, h, w) mask, 1 = masked; ``h`` and ``w`` must divide
            ``size``.
        size (tuple[int, int]): Target (H, W).

    Returns:
        Tensor: (B, 1, H, W) float mask.
    """
    h, w = mask.shape[-2:]
    if size[0] % h or size[1] % w:
        raise ValueError(f'mask of size {(h, w)} does not divide the image size {tuple(size)}')
    return mask.float().repeat_interleave(size[0] // h, 1).repeat_interleave(
        size[1] // w, 2).unsqueeze(1)


@MODELS.register_module()
class CMIDMIMHead(BaseModule):
    """Masked focal-L1 + focal-frequency reconstruction loss of CMID.

    ``loss_rec = sum(focal_l1 * mask) / (sum(mask) + 1e-5) / C`` over the
    masked pixels (the mask counted once per pixel, the loss summed over the C
    channels), plus the focal frequency loss of the "mixed" prediction
    ``x~ = x^ * m_f + (0.5 x^.detach() + 0.5 x) * (1 - m_f)`` with
    ``m_f = mask + (1 - mask) * unmask_weight``. This mirrors the reference's
    ``A2MIMHead`` with ``fft_weight=1``, ``fft_reweight=False``,
    ``unmask_replace='mixed'``, ``unmask_weight=0.001``.

    Args:
        loss (dict): Pixel loss config; built with ``reduction='none'``.
        fft_loss (dict, optional): Frequency loss config; None disables it.
        unmask_weight (float): Weight of unmasked pixels in the frequency
            term. Defaults to 0.001.
    """

    def __init__(self,
                 loss: dict = dict(type='FocalL1Loss', alpha=0.2, gamma=1.0),
                 fft_loss: dict | None = dict(
                     type='FocalFrequencyLoss', alpha=1.0, ave_spectrum=True,
                     log_matrix=True, batch_matrix=True),
                 unmask_weight: float = 0.001,
                 init_cfg: dict | None = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.loss_module = MODELS.build({**loss, 'reduction': 'none'})
        self.fft_loss = MODELS.build(fft_loss) if fft_loss is not None else None
        self.unmask_weight = unmask_weight

    def loss(self, pred: torch.Tensor, target: torch.Tensor,
             mask: torch.Tensor) -> torch.Tensor:
        """Compute the reconstruction loss.

        Args:
            pred (Tensor): Reconstruction (B, C, H, W).
            target (Tensor): Unmasked normalised image (B, C, H, W).
            mask (Tensor): Block mask (B, h, w), 1 = masked, at any resolution
                that divides (H, W).

        Returns:
            Tensor: Scalar loss.
        """
        if pred.shape != target.shape:
            raise ValueError(f'prediction {tuple(pred.shape)} and target '
                             f'{tuple(target.shape)} differ in shape')
        pix_mask = upsample_mask(mask, pred.shape[-2:]).to(pred.dtype)  # (B, 1, H, W)
        loss = self.loss_module(pred, target)
        loss = (loss * pix_mask).sum() / (pix_mask.sum() + 1e-5) / pred.shape[1]
        if self.fft_loss is not None:
            m_f = pix_mask + (1. - pix_mask) * self.unmask_weight
            mixed = pred * m_f + (0.5 * pred.detach() + 0.5 * target) * (1. - m_f)
            loss = loss + self.fft_loss(mixed, target)
        return loss
