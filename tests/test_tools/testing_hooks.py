"""Test-only hooks: SIGKILL after a checkpoint; dump weights at the start or end of training."""
import os
import signal

from mmengine.hooks import Hook
from mmpretrain.registry import HOOKS


@HOOKS.register_module()
class KillAfterEpochHook(Hook):
    """SIGKILL the process (like an OOM killer or pre-emption) after 1-based epoch ``epoch``."""

    priority = 'LOWEST'  # after CheckpointHook (VERY_LOW) has written the checkpoint

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def after_train_epoch(self, runner) -> None:
        if runner.epoch + 1 == self.epoch:  # runner.epoch counts finished epochs - 1 here
            os.kill(os.getpid(), signal.SIGKILL)


@HOOKS.register_module()
class DumpRankStateHook(Hook):
    """Save every rank's model state dict after training (to compare ranks)."""

    def after_train(self, runner) -> None:
        import torch
        from mmengine.model import is_model_wrapper
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        torch.save(model.state_dict(), f'{runner.work_dir}/rank{runner.rank}_state.pth')


@HOOKS.register_module()
class DumpStateAtTrainStartHook(Hook):
    """Save each rank's model state dict as training starts (after loading / resuming)."""

    priority = 'LOWEST'

    def before_train(self, runner) -> None:
        import torch
        from mmengine.model import is_model_wrapper
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        torch.save(dict(state_dict=model.state_dict(), iter=runner.iter, epoch=runner.epoch),
                   f'{runner.work_dir}/rank{runner.rank}_start_state.pth')
