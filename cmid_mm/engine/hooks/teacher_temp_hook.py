"""Feeds the epoch to CMID's local loss (teacher-temperature warm-up)."""
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmpretrain.registry import HOOKS


@HOOKS.register_module()
class LocalTeacherTempHook(Hook):
    """Call ``model.local_loss.set_epoch(runner.epoch)`` before each epoch.

    DINO sets the teacher temperature from the epoch inside its training
    loop; in mmengine the loop is generic, so a hook does it. It also runs
    before training starts, so a resumed run picks the right temperature.
    """

    priority = 'NORMAL'

    def _set(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        model.local_loss.set_epoch(runner.epoch)

    def before_train(self, runner) -> None:
        self._set(runner)

    def before_train_epoch(self, runner) -> None:
        self._set(runner)
