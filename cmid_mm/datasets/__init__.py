"""Datasets and data transforms of cmid-mm.

``rs_tiles`` builds real remote-sensing tile datasets (see docs/data.md);
``transforms`` registers the loading and view transforms.
"""
from . import rs_tiles  # noqa: F401
from .rs_tiles import build_all  # noqa: F401
from .transforms import *  # noqa: F401,F403
