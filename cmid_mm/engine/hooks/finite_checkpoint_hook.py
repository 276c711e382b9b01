"""Refuse to write non-finite weights into a checkpoint."""
import torch
from mmengine.hooks import Hook
from mmpretrain.registry import HOOKS


@HOOKS.register_module()
class FiniteCheckpointHook(Hook):
    """Raise before a checkpoint with NaN/Inf in ``state_dict`` is written.

    The last good checkpoint then stays the newest one, so ``--resume``
    continues from healthy weights instead of a poisoned file.
    """

    priority = 'VERY_HIGH'

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        bad = [k for k, v in checkpoint.get('state_dict', {}).items()
               if torch.is_tensor(v) and v.is_floating_point() and not torch.isfinite(v).all()]
        if bad:
            raise FloatingPointError(
                f'refusing to save a checkpoint at iteration {runner.iter}: non-finite values '
                f'in {len(bad)} tensors, e.g. {bad[:5]}; the last good checkpoint in '
                f'{runner.work_dir} is kept')
