from .batch_photometric import BatchPhotometric
from .foreach_ema import ForeachCosineEMA, cosine_ema_momentum
from .position_match import position_match
from .short_schedule import cmid_short_schedule

__all__ = ['BatchPhotometric', 'ForeachCosineEMA', 'cosine_ema_momentum', 'position_match',
           'cmid_short_schedule']
