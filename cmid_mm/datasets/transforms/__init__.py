"""Data transforms; importing this package registers them (mmpretrain and mmseg registries)."""
from .cmid_views import CMIDMultiView, location_grid
from .loading import *  # noqa: F401,F403
from .photometric import RSColorJitter, RSGaussianBlur, RSGaussNoise, RSSolarize, RSToGray
