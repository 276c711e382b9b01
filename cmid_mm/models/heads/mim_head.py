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
        band_names (list[str], optional): Names of the C target bands, used by
            :meth:`diagnostics` (e.g. ``['B01', ..., 'B12']``); default
            ``band0``, ``band1``, ...
    """

    def __init__(self,
                 loss: dict = dict(type='FocalL1Loss', alpha=0.2, gamma=1.0),
                 fft_loss: dict | None = dict(
                     type='FocalFrequencyLoss', alpha=1.0, ave_spectrum=True,
                     log_matrix=True, batch_matrix=True),
                 unmask_weight: float = 0.001,
                 band_names: list[str] | None = None,
                 init_cfg: dict | None = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.band_names = None if band_names is None else [str(b) for b in band_names]
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
        self._check_shapes(pred, target)
        pix_mask = upsample_mask(mask, pred.shape[-2:]).to(pred.dtype)  # (B, 1, H, W)
        loss = self.loss_module(pred, target)
        loss = (loss * pix_mask).sum() / (pix_mask.sum() + 1e-5) / pred.shape[1]
        if self.fft_loss is not None:
            loss = loss + self.fft_loss(self._mixed(pred, target, pix_mask), target)
        return loss

    @torch.no_grad()
    def diagnostics(self, pred: torch.Tensor, target: torch.Tensor,
                    mask: torch.Tensor) -> dict[str, torch.Tensor]:
        """The parts of :meth:`loss`, detached: pixel vs frequency term, and each band's share.

        ``rec_pix + rec_freq == loss(...)`` and, for every band ``b``,
        ``sum_b rec_pix_<b> == rec_pix``, ``sum_b rec_freq_<b> == rec_freq`` (up to
        rounding). The names contain no ``loss``, so mmengine logs them without adding
        them to the objective.

        Also the *unweighted* spectrum distance of the frequency term, to tell the
        spectrum error from its focal weighting (the weights are normalised by their
        batch maximum, so the weighted term can rise while the error falls):
        ``rec_fdist`` = mean ``|dF|^2`` of the mixed prediction, and the same for the
        error restricted to the masked (``rec_fdist_masked``) and the unmasked pixels
        (``rec_fdist_unmasked``; there the mix holds half the prediction's error, with
        almost no gradient: ``unmask_weight``).

        Returns:
            dict[str, Tensor]: ``rec_pix``, ``rec_freq``, ``rec_fdist*`` and
            ``rec_pix_<band>``, ``rec_freq_<band>`` for every band (scalars).
        """
        self._check_shapes(pred, target)
        bands = pred.shape[1]
        names = self.band_names or [f'band{c}' for c in range(bands)]
        if len(names) != bands:
            raise ValueError(f'CMIDMIMHead.band_names has {len(names)} names but the '
                             f'reconstruction has {bands} bands')
        pix_mask = upsample_mask(mask, pred.shape[-2:]).to(pred.dtype)
        # (C,) per-band share of the masked focal-L1 term
        pix = (self.loss_module(pred, target) * pix_mask).sum((0, 2, 3)) / (
            pix_mask.sum() + 1e-5) / bands
        out = {}
        if self.fft_loss is not None:
            mixed = self._mixed(pred, target, pix_mask)
            fmap = self.fft_loss.loss_map(mixed, target)
            freq = fmap.mean((0, 2, 3)) / bands  # (C,)
            err = (mixed - target).float()
            ave = getattr(self.fft_loss, 'ave_spectrum', False)
            for key, part in (('rec_fdist', err), ('rec_fdist_masked', err * pix_mask),
                              ('rec_fdist_unmasked', err * (1 - pix_mask))):
                spec = torch.fft.fft2(part, norm='ortho')
                spec = spec.mean(0, keepdim=True) if ave else spec
                out[key] = spec.abs().pow(2).mean()
        else:
            freq = torch.zeros_like(pix)
        out = dict(rec_pix=pix.sum(), rec_freq=freq.sum(), **out)
        for name, p, f in zip(names, pix, freq):
            out[f'rec_pix_{name}'] = p
            out[f'rec_freq_{name}'] = f
        return out

    def _mixed(self, pred: torch.Tensor, target: torch.Tensor,
               pix_mask: torch.Tensor) -> torch.Tensor:
        """``x~ = x^ m_f + (0.5 x^.detach() + 0.5 x)(1 - m_f)``, the input of the FFL."""
        m_f = pix_mask + (1. - pix_mask) * self.unmask_weight
        return pred * m_f + (0.5 * pred.detach() + 0.5 * target) * (1. - m_f)

    @staticmethod
    def _check_shapes(pred: torch.Tensor, target: torch.Tensor) -> None:
        if pred.shape != target.shape:
            raise ValueError(f'prediction {tuple(pred.shape)} and target '
                             f'{tuple(target.shape)} differ in shape')
