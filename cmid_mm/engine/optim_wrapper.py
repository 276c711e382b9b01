"""An optimizer wrapper that skips steps whose loss is not finite."""
import torch
import torch.distributed as dist
from mmengine.dist import is_distributed
from mmengine.logging import MessageHub, print_log
from mmengine.optim import OptimWrapper
from mmpretrain.registry import OPTIM_WRAPPERS


@OPTIM_WRAPPERS.register_module()
class SkipNonFiniteOptimWrapper(OptimWrapper):
    """``OptimWrapper`` that drops a step when the total loss is NaN/Inf on any rank.

    Used with ``CMID(nonfinite_loss='skip')``: the model logs which loss term
    went bad, this wrapper skips backward and the update (on every rank
    together, so DDP never waits on a rank that skipped) and counts the skips
    in the message hub (``train/skipped_steps``). For AMP runs the
    ``AmpOptimWrapper``'s GradScaler already skips steps with Inf gradients.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.skipped_steps = 0

    def update_params(self, loss: torch.Tensor, step_kwargs=None, zero_kwargs=None) -> None:
        finite = torch.isfinite(loss.detach()).float()
        if is_distributed():
            dist.all_reduce(finite, op=dist.ReduceOp.MIN)
        if finite.item() < 1:
            self.skipped_steps += 1
            self.zero_grad()
            MessageHub.get_current_instance().update_scalar('train/skipped_steps',
                                                            self.skipped_steps)
            print_log(f'non-finite loss ({loss.item()}): step skipped '
                      f'({self.skipped_steps} so far)', logger='current', level=30)
            return
        super().update_params(loss, step_kwargs, zero_kwargs)
