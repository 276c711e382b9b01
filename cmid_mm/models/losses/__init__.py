from .cmid_local_loss import CMIDLocalLoss
from .focal_frequency_loss import FocalFrequencyLoss
from .focal_l1_loss import FocalL1Loss, focal_l1_loss

__all__ = ['FocalL1Loss', 'focal_l1_loss', 'FocalFrequencyLoss', 'CMIDLocalLoss']
