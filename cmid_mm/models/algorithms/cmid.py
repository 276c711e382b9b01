"""CMID: contrastive + masked image modelling + dense self-distillation."""
import logging

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.dist import all_gather
from mmengine.logging import MessageHub, print_log
from mmpretrain.models.selfsup import BaseSelfSupervisor
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from ..utils import position_match


def _disable_stochastic_depth(module: nn.Module) -> None:
    """Zero drop-path / dropout rates of a teacher copy (DINO builds its teacher so).

    The EMA teacher is a deep copy of the student and runs in train mode (for
    BatchNorm batch statistics, as in MoCo), which would otherwise also drop
    paths at random in Swin and make the distillation targets noisy.
    """
    for m in module.modules():
        if hasattr(m, 'drop_prob'):  # mmcv / mmpretrain DropPath
            m.drop_prob = 0.
        elif isinstance(m, nn.Dropout):
            m.p = 0.


@MODELS.register_module()
class CMID(BaseSelfSupervisor):
    """CMID (Muhtar et al., TGRS 2023, arXiv 2304.09670).

    One student learns at once from the masked views of two crops:

    - ``loss_rec``: reconstruct the masked pixels of each view from the last
      feature map (``neck`` = pixel-shuffle decoder, ``head`` =
      :class:`CMIDMIMHead`), averaged over the views;
    - ``loss_global``: MoCo v2 cross-view contrast of the student projection
      of masked view A against the EMA teacher's key of unmasked view B (and
      swapped) with a queue of negatives (``global_mode='moco'``,
      ``global_head`` = mmpretrain ``ContrastiveHead``), or BYOL
      (``global_mode='byol'``, ``global_head`` = ``LatentPredictHead``);
    - ``loss_local``: DINO-style distillation between spatially matched
      positions of the two views (:func:`position_match`,
      :class:`CMIDLocalHead`, :class:`CMIDLocalLoss`), symmetric.

    The teacher (backbone + projector + local head) is an EMA copy of the
    student (``teacher`` config, mmpretrain ``CosineEMA`` by default), sees the
    unmasked views, and runs without stochastic depth. Inputs come from
    :class:`CMIDDataPreprocessor`.

    Args:
        backbone (dict): Student with a ``forward(x, mask)``
            (:class:`CMIDResNet` / :class:`CMIDSwinTransformer`).
        neck (dict): MIM decoder (:class:`CMIDLinearDecoder`).
        head (dict): MIM loss head (:class:`CMIDMIMHead`).
        projector (dict): Global projector, e.g. ``MoCoV2Neck``.
        global_head (dict): ``ContrastiveHead`` (moco) or ``LatentPredictHead`` (byol).
        local_head (dict): :class:`CMIDLocalHead`.
        local_loss (dict): :class:`CMIDLocalLoss`.
        teacher (dict): EMA config without ``model``. Defaults to CosineEMA
            0.996 -> 1 (mmengine's ``momentum`` is 1 - teacher momentum).
        global_mode (str): ``'moco'`` or ``'byol'``. Defaults to ``'moco'``.
        queue_len (int): Negatives in the MoCo queue. Defaults to 65536.
        feat_dim (int): Projection size. Defaults to 256.
        num_matches (int): Matched positions per image. Defaults to 20.
        loss_weights (dict): Weights of ``rec``, ``global``, ``local``.
            Defaults to 1 each.
        nonfinite_loss (str): What a NaN/Inf loss term does: ``'raise'`` stops
            the run with a ``FloatingPointError`` naming the term (default);
            ``'skip'`` logs it and leaves the step to be dropped by
            ``SkipNonFiniteOptimWrapper``.
    """

    def __init__(self,
                 backbone: dict,
                 neck: dict,
                 head: dict,
                 projector: dict,
                 global_head: dict,
                 local_head: dict,
                 local_loss: dict,
                 teacher: dict = dict(type='CosineEMA', momentum=0.004, end_momentum=0.),
                 global_mode: str = 'moco',
                 queue_len: int = 65536,
                 feat_dim: int = 256,
                 num_matches: int = 20,
                 loss_weights: dict | None = None,
                 nonfinite_loss: str = 'raise',
                 data_preprocessor: dict | None = None,
                 init_cfg: dict | list[dict] | None = None) -> None:
        data_preprocessor = data_preprocessor or dict(type='CMIDDataPreprocessor')
        super().__init__(backbone=backbone, neck=neck, head=head,
                         data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if global_mode not in ('moco', 'byol'):
            raise ValueError(f"global_mode must be 'moco' or 'byol', got {global_mode!r}")
        self.projector = MODELS.build(projector)
        self.global_head = MODELS.build(global_head)
        self.local_head = MODELS.build(local_head)
        self.local_loss = MODELS.build(local_loss)
        self.teacher = MODELS.build({**teacher, 'model': self._student()})
        _disable_stochastic_depth(self.teacher.module)
        if nonfinite_loss not in ('raise', 'skip'):
            raise ValueError(f"nonfinite_loss must be 'raise' or 'skip', got {nonfinite_loss!r}")
        self.nonfinite_loss = nonfinite_loss
        self.global_mode = global_mode
        self.num_matches = num_matches
        self.loss_weights = {'rec': 1., 'global': 1., 'local': 1., **(loss_weights or {})}
        self.queue_len = queue_len
        if global_mode == 'moco':
            self.register_buffer('queue', F.normalize(torch.randn(feat_dim, queue_len), dim=0))
            self.register_buffer('queue_ptr', torch.zeros(1, dtype=torch.long))

    def _student(self) -> nn.ModuleDict:
        """The modules the teacher averages (a view, not registered twice)."""
        return nn.ModuleDict(dict(backbone=self.backbone, projector=self.projector,
                                  local_head=self.local_head))

    def init_weights(self) -> None:
        """Initialise the student, then start the teacher as its exact copy."""
        super().init_weights()
        self.teacher.module.load_state_dict(self._student().state_dict())

    def extract_feat(self, inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Student features of unmasked images (B, C, H, W)."""
        return self.backbone(inputs)

    def loss(self, inputs: dict, data_samples: list[DataSample],
             **kwargs) -> dict[str, torch.Tensor]:
        """The CMID objective: ``loss_rec + loss_global + loss_local``.

        Args:
            inputs (dict): ``img``, ``masked_img``, ``mask``, ``grid`` lists of
                two views from :class:`CMIDDataPreprocessor`.
            data_samples (list[DataSample]): Unused besides shapes.

        Returns:
            dict[str, Tensor]: ``loss_rec``, ``loss_global``, ``loss_local``.
        """
        imgs, masks, grids = inputs['img'], inputs['mask'], inputs['grid']
        s_maps = [self.backbone(x, m)[-1] for x, m in zip(inputs['masked_img'], masks)]
        with torch.no_grad():
            self.teacher.update_parameters(self._student())
            teacher = self.teacher.module
            t_maps = [teacher.backbone(x)[-1] for x in imgs]  # (B, C, h, w) each

        loss_rec = sum(self.head.loss(self.neck(s), x, m)
                       for s, x, m in zip(s_maps, imgs, masks)) / 2
        loss_global = self._global_loss(s_maps, t_maps)
        loss_local = self._local_loss(s_maps, t_maps, grids)
        w = self.loss_weights
        losses = dict(loss_rec=w['rec'] * loss_rec, loss_global=w['global'] * loss_global,
                      loss_local=w['local'] * loss_local)
        self._check_finite(losses)
        return losses

    def _check_finite(self, losses: dict[str, torch.Tensor]) -> None:
        """Name the non-finite loss terms; raise or warn per ``nonfinite_loss``."""
        bad = [k for k, v in losses.items() if not torch.isfinite(v).all()]
        if not bad:
            return
        it = MessageHub.get_current_instance().get_info('iter')
        msg = (f'non-finite CMID loss at iteration {it}: ' +
               ', '.join(f'{k}={losses[k].item()}' for k in bad))
        if self.nonfinite_loss == 'raise':
            raise FloatingPointError(
                msg + '. Stopped before the update, so no NaN reaches the weights or a '
                "checkpoint. To skip such steps instead set model.nonfinite_loss='skip' and "
                "optim_wrapper.type='SkipNonFiniteOptimWrapper'.")
        print_log(msg + ' (step will be skipped)', logger='current', level=logging.WARNING)

    def _global_loss(self, s_maps: list[torch.Tensor], t_maps: list[torch.Tensor]) -> torch.Tensor:
        """Symmetric cross-view global loss; enqueues both teacher keys (moco)."""
        q = [self.projector([s])[0] for s in s_maps]  # (B, D)
        with torch.no_grad():
            k = [self.teacher.module.projector([t])[0] for t in t_maps]
        if self.global_mode == 'byol':
            return (self.global_head.loss(q[0], k[1]) + self.global_head.loss(q[1], k[0])) / 2
        q = [F.normalize(x, dim=1) for x in q]
        k = [F.normalize(x, dim=1) for x in k]
        queue = self.queue.clone().detach()
        loss = sum(self.global_head.loss((qa * kb).sum(1, keepdim=True), qa @ queue)
                   for qa, kb in ((q[0], k[1]), (q[1], k[0]))) / 2
        self._dequeue_and_enqueue(torch.cat(k))
        return loss

    def _local_loss(self, s_maps: list[torch.Tensor], t_maps: list[torch.Tensor],
                    grids: list[torch.Tensor]) -> torch.Tensor:
        """Symmetric dense distillation on matched positions."""
        # (B, C, h, w) -> (B, h*w, C), row-major like the grids
        s_feats = [s.flatten(2).transpose(1, 2) for s in s_maps]
        t_feats = [t.flatten(2).transpose(1, 2) for t in t_maps]
        if grids[0].shape[1] != s_feats[0].shape[1]:
            raise ValueError(f'location grids have {grids[0].shape[1]} cells but the last feature '
                             f'map has {s_feats[0].shape[1]} positions: set CMIDMultiView '
                             "grid_size to the backbone's output side (crop_size // 32)")
        loss = 0.
        for a, b in ((0, 1), (1, 0)):
            s, t = position_match(grids[a], grids[b], s_feats[a], t_feats[b], self.num_matches)
            with torch.no_grad():
                t_out = self.teacher.module.local_head(t.transpose(1, 2))  # (B, D, K)
            loss = loss + self.local_loss(self.local_head(s.transpose(1, 2)), t_out)
        return loss / 2

    @torch.no_grad()
    def _dequeue_and_enqueue(self, keys: torch.Tensor) -> None:
        """Write the keys of all ranks into the ring buffer (wraps around)."""
        keys = torch.cat(all_gather(keys), dim=0)  # (world * 2B, D)
        n = min(keys.shape[0], self.queue_len)
        ptr = int(self.queue_ptr)
        idx = (torch.arange(n, device=keys.device) + ptr) % self.queue_len
        self.queue[:, idx] = keys[:n].transpose(0, 1).to(self.queue.dtype)
        self.queue_ptr[0] = (ptr + n) % self.queue_len
