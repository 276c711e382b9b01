from .position_match import position_match

__all__ = ['position_match']
