from .checkpoint import allow_mmengine_checkpoint_types, safe_load_checkpoint, weights_only_load
from .marked_section import write_marked_section
from .view_placement import photometric_placement, place_photometric

__all__ = ['allow_mmengine_checkpoint_types', 'safe_load_checkpoint', 'weights_only_load',
           'write_marked_section', 'photometric_placement', 'place_photometric']
