"""Feeds epoch and iteration to CMID's local loss (teacher-temperature warm-up)."""
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmpretrain.registry import HOOKS


@HOOKS.register_module()
class LocalTeacherTempHook(Hook):
    """Set the epoch and iteration of ``model.local_loss`` during training.

    DINO sets the teacher temperature from the epoch inside its training
    loop; in mmengine the loop is generic, so a hook does it:
    ``set_epoch(runner.epoch)`` before each epoch and ``set_iter(runner.iter)``
    before each iteration (the loss uses whichever its warm-up is counted
    in). It also runs before training starts, so a resumed run picks the
    right temperature, and there checks the model's optimizer wrapper
    (``CMID.check_optim_wrapper``: ``nonfinite_loss='skip'`` needs
    ``SkipNonFiniteOptimWrapper``), which a DDP-wrapped model would otherwise
    never see.
    """

    priority = 'NORMAL'

    @staticmethod
    def _model(runner):
        return runner.model.module if is_model_wrapper(runner.model) else runner.model

    def before_train(self, runner) -> None:
        model = self._model(runner)
        if hasattr(model, 'check_optim_wrapper'):
            model.check_optim_wrapper(runner.optim_wrapper)
        model.local_loss.set_epoch(runner.epoch)
        model.local_loss.set_iter(runner.iter)

    def before_train_epoch(self, runner) -> None:
        self._model(runner).local_loss.set_epoch(runner.epoch)

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        self._model(runner).local_loss.set_iter(runner.iter)
