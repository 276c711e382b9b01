"""Dense self-distillation loss of CMID's local branch (DINO-style)."""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.dist import all_reduce
from mmpretrain.registry import MODELS


def _check_range(name: str, value: float, low: float, high: float,
                 low_open: bool = False, high_open: bool = False) -> None:
    """Raise ``ValueError`` naming ``model.local_loss.<name>`` when out of range."""
    too_low = value <= low if low_open else value < low
    too_high = value >= high if high_open else value > high
    if too_low or too_high:
        lo, hi = '(' if low_open else '[', ')' if high_open else ']'
        raise ValueError(f'model.local_loss.{name} must be in {lo}{low}, {high}{hi}, got {value}')


@MODELS.register_module()
class CMIDLocalLoss(nn.Module):
    """Cross-entropy between sharpened, centred teacher and student outputs.

    This is DINO's loss (Caron et al. 2021, ``DINOLoss`` in
    facebookresearch/dino) applied to matched spatial positions instead of
    crops, as CMID's reference ``LocalLoss`` does: for student logits ``s``
    and teacher logits ``t`` of shape (B, out_dim, K) and a center ``c`` of
    shape (1, out_dim, 1),

    ``loss = mean_{b,k} -sum_c softmax((t - c) / tau_t)_c * log_softmax(s / tau_s)_c``.

    The teacher temperature ``tau_t`` warms up linearly from
    ``warmup_teacher_temp`` to ``teacher_temp``, either per epoch over
    ``warmup_teacher_temp_epochs`` (``np.linspace`` as DINO and the
    reference, so the last warm-up epoch already uses ``teacher_temp``) or per
    iteration over ``warmup_teacher_temp_iters`` (for short runs); then it
    stays. :class:`~cmid_mm.engine.hooks.LocalTeacherTempHook` feeds the epoch
    and the iteration.

    The forward pass does not change any state: the center update is a
    separate step, so that a step whose loss turns out non-finite can be
    dropped without touching the center. :meth:`next_center` returns the
    center moved towards the batch mean of a teacher output (averaged over all
    ranks) with ``center_momentum``; the caller writes it with
    :meth:`set_center` once the step is known to be finite. Softmaxes run in
    fp32 under AMP.

    Args:
        out_dim (int): Channels of the head output. Defaults to 2048.
        student_temp (float): Student temperature. Defaults to 0.1.
        teacher_temp (float): Final teacher temperature. Defaults to 0.07.
        warmup_teacher_temp (float): Initial teacher temperature. Defaults to 0.04.
        warmup_teacher_temp_epochs (int, optional): Warm-up length in epochs.
            Defaults to 50.
        warmup_teacher_temp_iters (int, optional): Warm-up length in
            iterations; when given, ``warmup_teacher_temp_epochs`` must be
            None. Defaults to None.
        center_momentum (float): Momentum of the center. Defaults to 0.9.
    """

    def __init__(self,
                 out_dim: int = 2048,
                 student_temp: float = 0.1,
                 teacher_temp: float = 0.07,
                 warmup_teacher_temp: float = 0.04,
                 warmup_teacher_temp_epochs: int | None = 50,
                 warmup_teacher_temp_iters: int | None = None,
                 center_momentum: float = 0.9) -> None:
        super().__init__()
        if out_dim < 1:
            raise ValueError(f'model.local_loss.out_dim must be >= 1, got {out_dim}')
        for name, value in (('student_temp', student_temp), ('teacher_temp', teacher_temp),
                            ('warmup_teacher_temp', warmup_teacher_temp)):
            _check_range(name, value, 0., float('inf'), low_open=True)
        _check_range('center_momentum', center_momentum, 0., 1., high_open=True)
        if (warmup_teacher_temp_epochs is None) == (warmup_teacher_temp_iters is None):
            raise ValueError('model.local_loss: give exactly one of warmup_teacher_temp_epochs '
                             'and warmup_teacher_temp_iters (set the other to None), got '
                             f'{warmup_teacher_temp_epochs} and {warmup_teacher_temp_iters}')
        warmup = warmup_teacher_temp_epochs if warmup_teacher_temp_iters is None \
            else warmup_teacher_temp_iters
        if warmup < 0:
            raise ValueError(f'model.local_loss warm-up length must be >= 0, got {warmup}')
        self.out_dim = out_dim
        self.student_temp = student_temp
        self.teacher_temp = teacher_temp
        self.warmup_teacher_temp = warmup_teacher_temp
        self.center_momentum = center_momentum
        self.warmup_iters = warmup_teacher_temp_iters
        self.teacher_temp_schedule = np.linspace(warmup_teacher_temp, teacher_temp,
                                                 warmup_teacher_temp_epochs or 0)
        self.register_buffer('center', torch.zeros(1, out_dim, 1))
        self.epoch = 0
        self.iter = 0

    def set_epoch(self, epoch: int) -> None:
        """Set the epoch (selects the temperature of an epoch-based warm-up)."""
        self.epoch = int(epoch)

    def set_iter(self, it: int) -> None:
        """Set the iteration (selects the temperature of an iteration-based warm-up)."""
        self.iter = int(it)

    @property
    def current_teacher_temp(self) -> float:
        """Teacher temperature of the current epoch or iteration."""
        if self.warmup_iters is not None:
            if self.warmup_iters == 0 or self.iter >= self.warmup_iters:
                return self.teacher_temp
            frac = self.iter / self.warmup_iters
            return self.warmup_teacher_temp + frac * (self.teacher_temp - self.warmup_teacher_temp)
        if self.epoch < len(self.teacher_temp_schedule):
            return float(self.teacher_temp_schedule[self.epoch])
        return self.teacher_temp

    def forward(self, student: torch.Tensor, teacher: torch.Tensor,
                center: torch.Tensor | None = None) -> torch.Tensor:
        """Compute the loss (no state changes).

        Args:
            student (Tensor): Student logits (B, out_dim, K).
            teacher (Tensor): Teacher logits (B, out_dim, K), no grad needed.
            center (Tensor, optional): Center (1, out_dim, 1) to subtract;
                defaults to the stored :attr:`center`.

        Returns:
            Tensor: Scalar loss (fp32).
        """
        if student.shape != teacher.shape or student.shape[1] != self.out_dim:
            raise ValueError(f'CMIDLocalLoss expects (B, {self.out_dim}, K) student and teacher '
                             f'logits, got {tuple(student.shape)} and {tuple(teacher.shape)}')
        center = self.center if center is None else center
        with torch.autocast(device_type=student.device.type, enabled=False):
            teacher = teacher.detach().float()
            t = F.softmax((teacher - center) / self.current_teacher_temp, dim=1)
            log_s = F.log_softmax(student.float() / self.student_temp, dim=1)
            return -(t * log_s).sum(dim=1).mean()

    @torch.no_grad()
    def next_center(self, teacher: torch.Tensor,
                    center: torch.Tensor | None = None) -> torch.Tensor:
        """``m * center + (1 - m) * mean_{ranks, b, k}(teacher)``, not stored.

        Args:
            teacher (Tensor): Teacher logits (B, out_dim, K).
            center (Tensor, optional): Center to move; defaults to :attr:`center`.

        Returns:
            Tensor: The moved center (1, out_dim, 1).
        """
        center = self.center if center is None else center
        batch_center = teacher.detach().float().mean(dim=(0, 2), keepdim=True)
        all_reduce(batch_center, op='mean')
        return center * self.center_momentum + batch_center * (1 - self.center_momentum)

    @torch.no_grad()
    def set_center(self, center: torch.Tensor) -> None:
        """Store a center computed by :meth:`next_center`."""
        self.center.copy_(center)
