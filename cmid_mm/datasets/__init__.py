"""Datasets and data transforms of cmid-mm.

``transforms`` registers the loading and view transforms. The builders of the
real remote-sensing tile datasets live in :mod:`cmid_mm.rsdata` (see
docs/data.md); this package does not import them.
"""
from .transforms import *  # noqa: F401,F403
