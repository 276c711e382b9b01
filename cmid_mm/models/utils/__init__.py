from .batch_photometric import BatchPhotometric
from .foreach_ema import ForeachCosineEMA, cosine_ema_momentum
from .position_match import position_match
from .sdpa_window_msa import SDPAWindowMSA, use_sdpa_window_attention
from .short_schedule import cmid_short_schedule

__all__ = ['BatchPhotometric', 'ForeachCosineEMA', 'cosine_ema_momentum', 'position_match',
           'cmid_short_schedule', 'SDPAWindowMSA', 'use_sdpa_window_attention']
