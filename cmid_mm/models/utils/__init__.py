from .batch_photometric import BatchPhotometric
from .position_match import position_match
from .short_schedule import cmid_short_schedule

__all__ = ['BatchPhotometric', 'position_match', 'cmid_short_schedule']
