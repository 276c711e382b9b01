from .position_match import position_match
from .short_schedule import cmid_short_schedule

__all__ = ['position_match', 'cmid_short_schedule']
