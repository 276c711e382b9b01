"""Dense self-distillation loss of CMID's local branch (DINO-style)."""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.dist import all_reduce
from mmpretrain.registry import MODELS


@MODELS.register_module()
class CMIDLocalLoss(nn.Module):
    """Cross-entropy between sharpened, centred teacher and student outputs.

    This is DINO's loss (Caron et al. 2021, ``DINOLoss`` in
    facebookresearch/dino) applied to matched spatial positions instead of
    crops, as CMID's reference does: for student logits ``s`` and teacher
    logits ``t`` of shape (B, out_dim, K),

    ``loss = mean_{b,k} -sum_c softmax((t - center) / tau_t)_c * log_softmax(s / tau_s)_c``.

    The teacher temperature warms up linearly from ``warmup_teacher_temp`` to
    ``teacher_temp`` over ``warmup_teacher_temp_epochs`` epochs
    (``np.linspace``, so the last warm-up epoch already uses
    ``teacher_temp``), then stays. The epoch is set from outside by
    :class:`~cmid_mm.engine.hooks.LocalTeacherTempHook` via :meth:`set_epoch`.
    After every call the center moves towards the batch mean of the teacher
    output (averaged over all ranks) with ``center_momentum``.
    Softmaxes run in fp32 under AMP.

    Args:
        out_dim (int): Channels of the head output. Defaults to 2048.
        student_temp (float): Student temperature. Defaults to 0.1.
        teacher_temp (float): Final teacher temperature. Defaults to 0.07.
        warmup_teacher_temp (float): Initial teacher temperature. Defaults to 0.04.
        warmup_teacher_temp_epochs (int): Warm-up length. Defaults to 50.
        center_momentum (float): Momentum of the center. Defaults to 0.9.
    """

    def __init__(self,
                 out_dim: int = 2048,
                 student_temp: float = 0.1,
                 teacher_temp: float = 0.07,
                 warmup_teacher_temp: float = 0.04,
                 warmup_teacher_temp_epochs: int = 50,
                 center_momentum: float = 0.9) -> None:
        super().__init__()
        self.out_dim = out_dim
        self.student_temp = student_temp
        self.teacher_temp = teacher_temp
        self.center_momentum = center_momentum
        self.teacher_temp_schedule = np.linspace(warmup_teacher_temp, teacher_temp,
                                                 warmup_teacher_temp_epochs)
        self.register_buffer('center', torch.zeros(1, out_dim, 1))
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Set the epoch that selects the teacher temperature."""
        self.epoch = int(epoch)

    @property
    def current_teacher_temp(self) -> float:
        """Teacher temperature of the current epoch."""
        if self.epoch < len(self.teacher_temp_schedule):
            return float(self.teacher_temp_schedule[self.epoch])
        return self.teacher_temp

    def forward(self, student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
        """Compute the loss and update the center.

        Args:
            student (Tensor): Student logits (B, out_dim, K).
            teacher (Tensor): Teacher logits (B, out_dim, K), no grad needed.

        Returns:
            Tensor: Scalar loss (fp32).
        """
        if student.shape != teacher.shape or student.shape[1] != self.out_dim:
            raise ValueError(f'CMIDLocalLoss expects (B, {self.out_dim}, K) student and teacher '
                             f'logits, got {tuple(student.shape)} and {tuple(teacher.shape)}')
        with torch.autocast(device_type=student.device.type, enabled=False):
            teacher = teacher.detach().float()
            t = F.softmax((teacher - self.center) / self.current_teacher_temp, dim=1)
            log_s = F.log_softmax(student.float() / self.student_temp, dim=1)
            loss = -(t * log_s).sum(dim=1).mean()
        self.update_center(teacher)
        return loss

    @torch.no_grad()
    def update_center(self, teacher: torch.Tensor) -> None:
        """EMA of the teacher mean over batch and positions, all ranks averaged."""
        batch_center = teacher.mean(dim=(0, 2), keepdim=True)  # (1, out_dim, 1)
        all_reduce(batch_center, op='mean')
        self.center.mul_(self.center_momentum).add_(batch_center,
                                                    alpha=1 - self.center_momentum)
