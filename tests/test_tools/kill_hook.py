"""Test-only hook: SIGKILL the training process right after a checkpoint is saved."""
import os
import signal

from mmengine.hooks import Hook
from mmpretrain.registry import HOOKS


@HOOKS.register_module()
class KillAfterEpochHook(Hook):
    """Kill the process (as an OOM killer or a pre-empted node would) after epoch ``epoch``."""

    priority = 'LOWEST'  # after CheckpointHook (VERY_LOW) has written the checkpoint

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def after_train_epoch(self, runner) -> None:
        if runner.epoch == self.epoch:
            os.kill(os.getpid(), signal.SIGKILL)
