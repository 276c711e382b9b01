from .checkpoint import allow_mmengine_checkpoint_types, safe_load_checkpoint, weights_only_load

__all__ = ['allow_mmengine_checkpoint_types', 'safe_load_checkpoint', 'weights_only_load']
