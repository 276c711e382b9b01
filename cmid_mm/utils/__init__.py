from .checkpoint import allow_mmengine_checkpoint_types, safe_load_checkpoint, weights_only_load
from .marked_section import write_marked_section

__all__ = ['allow_mmengine_checkpoint_types', 'safe_load_checkpoint', 'weights_only_load',
           'write_marked_section']
