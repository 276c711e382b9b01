"""CMID: contrastive + masked image modelling + dense self-distillation."""
import logging

import torch
import torch.nn as nn
from mmengine.dist import all_reduce
from mmengine.logging import MessageHub, print_log
from mmengine.optim import OptimWrapper
from mmpretrain.models.selfsup import BaseSelfSupervisor
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample
from torch.nn.modules.batchnorm import _BatchNorm

from ..data_preprocessor import check_backbone_bands
from ..utils import position_match
from .cmid_checks import (
    check_dims,
    check_loss_weights,
    check_num_matches,
    check_stride,
    check_teacher,
    check_token_grid,
)

# keys of older configs / checkpoints and where they live now
_MOVED_KEYS = {'global_mode': "model.global_head.type ('CMIDMoCoHead' or 'CMIDBYOLHead')",
               'queue_len': 'model.global_head.queue_len',
               'feat_dim': 'model.global_head.feat_dim'}
_LEGACY_STATE = {'queue': 'global_head.queue', 'queue_ptr': 'global_head.queue_ptr'}


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
    - ``loss_global``: cross-view global loss between the student projection
      of each masked view and the EMA teacher's projection of the other,
      unmasked view: ``global_head`` = :class:`CMIDMoCoHead` (MoCo v2 with a
      queue) or :class:`CMIDBYOLHead` (BYOL), both symmetric;
    - ``loss_local``: DINO-style distillation between spatially matched
      positions of the two views (:func:`position_match`,
      :class:`CMIDLocalHead`, :class:`CMIDLocalLoss`), symmetric.

    The teacher (backbone + projector + local head) is an EMA of the
    student's *parameters* (``teacher`` config, mmpretrain ``CosineEMA`` by
    default), sees the unmasked views, runs without stochastic depth and keeps
    its *own* BatchNorm statistics from those clean views (the reference's
    teacher does; mmengine's ``update_buffers=False`` would copy the student's
    masked-image statistics instead). Inputs come from
    :class:`CMIDDataPreprocessor`.

    One step: EMA update (unless the previous step was skipped), forward
    passes, loss terms, **one** finiteness check of all terms (all ranks
    agree; the step's only host-device sync), then the state updates that
    belong to the step (queue enqueue, local-loss center). A non-finite step
    raises, or with ``nonfinite_loss='skip'`` leaves every state as it was:
    no enqueue, no center update, BatchNorm running statistics of student and
    teacher restored, and the EMA update of the next step not done (the
    teacher already holds the unchanged student's average).

    Args:
        backbone (dict): Student with a ``forward(x, mask)``
            (:class:`CMIDResNet` / :class:`CMIDSwinTransformer`).
        neck (dict): MIM decoder (:class:`CMIDLinearDecoder`).
        head (dict): MIM loss head (:class:`CMIDMIMHead`).
        projector (dict): Global projector, e.g. ``MoCoV2Neck``.
        global_head (dict): :class:`CMIDMoCoHead` or :class:`CMIDBYOLHead`.
        local_head (dict): :class:`CMIDLocalHead`.
        local_loss (dict): :class:`CMIDLocalLoss`.
        teacher (dict): EMA config without ``model``. Defaults to CosineEMA
            0.996 -> 1 (mmengine's ``momentum`` is 1 - teacher momentum).
        num_matches (int): Matched positions per image. Defaults to 20.
        loss_weights (dict): Weights of the terms, keyed ``loss_rec``,
            ``loss_global``, ``loss_local`` (or ``rec``, ``global``, ``local``;
            ``global`` is a Python keyword that ``Config.dump`` cannot write).
            Defaults to 1 each.
        nonfinite_loss (str): What a NaN/Inf loss term does: ``'raise'`` stops
            the run with a ``FloatingPointError`` naming the term (default);
            ``'skip'`` logs it, leaves all state unchanged and lets
            ``SkipNonFiniteOptimWrapper`` (required) drop the update.
        log_rec_parts (bool): Also return (and so log) the parts of ``loss_rec``,
            averaged over the two views and before ``loss_weights``: ``rec_pix`` /
            ``rec_freq`` (focal-L1 vs focal-frequency term) and each band's share
            ``rec_pix_<band>`` / ``rec_freq_<band>`` (:meth:`CMIDMIMHead.diagnostics`;
            band names from ``head.band_names``). A diagnostic: it costs one more
            FFT per view and changes nothing else. Defaults to False.
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
                 num_matches: int = 20,
                 loss_weights: dict | None = None,
                 nonfinite_loss: str = 'raise',
                 log_rec_parts: bool = False,
                 data_preprocessor: dict | None = None,
                 init_cfg: dict | list[dict] | None = None,
                 **unknown) -> None:
        if unknown:
            hints = [f'{k} is now {_MOVED_KEYS[k]}' for k in unknown if k in _MOVED_KEYS]
            raise TypeError(f'CMID got unknown config keys {sorted(unknown)}' +
                            (f" ({'; '.join(hints)})" if hints else ''))
        if nonfinite_loss not in ('raise', 'skip'):
            raise ValueError(f"model.nonfinite_loss must be 'raise' or 'skip', got "
                             f'{nonfinite_loss!r}')
        self.loss_weights = check_loss_weights(loss_weights)
        check_teacher(teacher)
        check_num_matches(num_matches)
        data_preprocessor = data_preprocessor or dict(type='CMIDDataPreprocessor')
        super().__init__(backbone=backbone, neck=neck, head=head,
                         data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        check_backbone_bands(self.data_preprocessor, self.backbone)
        check_dims(self.backbone, neck, projector, global_head, local_head, local_loss)
        check_stride(self.backbone, neck)
        check_token_grid(self.backbone, num_matches)
        self.projector = MODELS.build(projector)
        self.global_head = MODELS.build(global_head)
        self.local_head = MODELS.build(local_head)
        self.local_loss = MODELS.build(local_loss)
        self.teacher = MODELS.build({**teacher, 'model': self._student()})
        _disable_stochastic_depth(self.teacher.module)
        self.nonfinite_loss = nonfinite_loss
        self.log_rec_parts = bool(log_rec_parts)
        self.num_matches = num_matches
        self._last_step_skipped = False
        self._optim_wrapper_checked = False
        self._register_load_state_dict_pre_hook(self._rename_legacy_keys)

    @staticmethod
    def _rename_legacy_keys(state_dict: dict, prefix: str, *args) -> None:
        """Checkpoints from before the global head kept ``queue``/``queue_ptr`` at the top."""
        for old, new in _LEGACY_STATE.items():
            if prefix + old in state_dict and prefix + new not in state_dict:
                state_dict[prefix + new] = state_dict.pop(prefix + old)

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

    def check_optim_wrapper(self, optim_wrapper: OptimWrapper) -> None:
        """``nonfinite_loss='skip'`` needs a wrapper that skips non-finite steps (checked once):
        ``SkipNonFiniteOptimWrapper``, or mmengine's ``AmpOptimWrapper`` (its GradScaler
        skips steps with non-finite gradients), as ``tools/train.py`` also accepts.

        Raises:
            ValueError: any other wrapper would still apply a non-finite step.
        """
        if self._optim_wrapper_checked or self.nonfinite_loss != 'skip':
            return
        from mmengine.optim import AmpOptimWrapper

        from cmid_mm.engine.optim_wrapper import SkipNonFiniteOptimWrapper
        if not isinstance(optim_wrapper, (SkipNonFiniteOptimWrapper, AmpOptimWrapper)):
            raise ValueError(
                "model.nonfinite_loss='skip' needs optim_wrapper.type="
                f"'SkipNonFiniteOptimWrapper' (or 'AmpOptimWrapper'), got "
                f'{type(optim_wrapper).__name__}: any other wrapper would apply the '
                'non-finite step to the weights')
        self._optim_wrapper_checked = True

    def train_step(self, data: dict | tuple | list,
                   optim_wrapper: OptimWrapper) -> dict[str, torch.Tensor]:
        """mmengine's train step, after :meth:`check_optim_wrapper`."""
        self.check_optim_wrapper(optim_wrapper)
        return super().train_step(data, optim_wrapper)

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
        bn_state = self._bn_snapshot() if self.nonfinite_loss == 'skip' else None
        # (last map (B, C, h, w), projector input) per view
        s_maps, s_glob = zip(*(self._features(self.backbone, x, m)
                               for x, m in zip(inputs['masked_img'], masks)))
        with torch.no_grad():
            if not self._last_step_skipped:
                self._update_teacher()
            t_maps, t_glob = zip(*(self._features(self.teacher.module.backbone, x)
                                   for x in imgs))

        preds = [self.neck(s) for s in s_maps]  # (B, C_in, H, W) reconstructions
        loss_rec = sum(self.head.loss(p, x, m) for p, x, m in zip(preds, imgs, masks)) / 2
        q = [self.projector([g])[0] for g in s_glob]  # (B, D) per view
        with torch.no_grad():
            k = [self.teacher.module.projector([g])[0] for g in t_glob]
        loss_global = self.global_head.cross_view_loss(q, k)
        loss_local, center = self._local_loss(s_maps, t_maps, grids)
        w = self.loss_weights
        losses = dict(loss_rec=w['rec'] * loss_rec, loss_global=w['global'] * loss_global,
                      loss_local=w['local'] * loss_local)
        if self._all_finite(losses):
            self.global_head.commit(k)
            self.local_loss.set_center(center)
            self._last_step_skipped = False
        else:
            self._on_nonfinite(losses, bn_state)
        if self.log_rec_parts:
            losses.update(self._rec_parts(preds, imgs, masks))
        return losses

    @staticmethod
    def _features(backbone: nn.Module, x: torch.Tensor, mask: torch.Tensor | None = None
                  ) -> tuple[torch.Tensor, torch.Tensor]:
        """The last map of ``backbone`` and the projector's input: the map itself (the
        projector pools it), or, for a ViT with ``global_feature='cls'``, its CLS token as a
        (B, C, 1, 1) map (the pool of which is the token)."""
        if getattr(backbone, 'global_feature', 'pool') == 'cls':
            maps, cls = backbone(x, mask, with_cls=True)
            return maps[-1], cls[:, :, None, None]
        last = backbone(x, mask)[-1]
        return last, last

    def _rec_parts(self, preds: list[torch.Tensor], imgs: list[torch.Tensor],
                   masks: list[torch.Tensor]) -> dict[str, torch.Tensor]:
        """:meth:`CMIDMIMHead.diagnostics` averaged over the two views (logged, not summed)."""
        parts = [self.head.diagnostics(p, x, m) for p, x, m in zip(preds, imgs, masks)]
        return {k: (parts[0][k] + parts[1][k]) / 2 for k in parts[0]}

    def _update_teacher(self) -> None:
        """EMA of the student's parameters; the teacher's buffers stay its own."""
        own = [b.clone() for b in self.teacher.module.buffers()]
        self.teacher.update_parameters(self._student())
        for b, saved in zip(self.teacher.module.buffers(), own):
            b.copy_(saved)

    def _bn_snapshot(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """(buffer, copy) of every BatchNorm statistic of student and teacher."""
        return [(b, b.clone()) for m in self.modules() if isinstance(m, _BatchNorm)
                for b in (m.running_mean, m.running_var, m.num_batches_tracked) if b is not None]

    @staticmethod
    def _all_finite(losses: dict[str, torch.Tensor]) -> bool:
        """True when every term is finite on every rank (one device sync)."""
        finite = torch.isfinite(torch.stack([v.detach().float() for v in losses.values()]))
        finite = finite.all().float()
        all_reduce(finite, op='min')
        return bool(finite.item())

    def _on_nonfinite(self, losses: dict[str, torch.Tensor],
                      bn_state: list[tuple[torch.Tensor, torch.Tensor]] | None) -> None:
        """Name the non-finite terms; raise, or undo the step's state changes (skip)."""
        bad = [k for k, v in losses.items() if not torch.isfinite(v).all()]
        it = MessageHub.get_current_instance().get_info('iter')
        msg = f'non-finite CMID loss at iteration {it}: ' + (
            ', '.join(f'{k}={losses[k].item()}' for k in bad) if bad else 'on another rank')
        if self.nonfinite_loss == 'raise':
            raise FloatingPointError(
                msg + '. Stopped before the update, so no NaN reaches the weights or a '
                "checkpoint. To skip such steps instead set model.nonfinite_loss='skip' and "
                "optim_wrapper.type='SkipNonFiniteOptimWrapper'.")
        for buf, saved in bn_state:
            buf.copy_(saved)
        self._last_step_skipped = True
        print_log(msg + ' (step will be skipped; queue, center, BatchNorm statistics and '
                  'teacher left unchanged)', logger='current', level=logging.WARNING)

    def _local_loss(self, s_maps: list[torch.Tensor], t_maps: list[torch.Tensor],
                    grids: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Symmetric dense distillation on matched positions.

        Returns:
            tuple[Tensor, Tensor]: The loss and the center after this step
            (each direction centres with the center as moved by the previous
            one, as the reference's two ``LocalLoss`` calls do); the caller
            stores it once the step is finite.
        """
        # (B, C, h, w) -> (B, h*w, C), row-major like the grids
        s_feats = [s.flatten(2).transpose(1, 2) for s in s_maps]
        t_feats = [t.flatten(2).transpose(1, 2) for t in t_maps]
        n_pos = s_feats[0].shape[1]
        if grids[0].shape[1] != n_pos:
            raise ValueError(f'location grids have {grids[0].shape[1]} cells but the last feature '
                             f'map has {n_pos} positions: set CMIDMultiView '
                             "grid_size to the backbone's output side (crop_size // "
                             f"{getattr(self.backbone, 'out_stride', 32)}; "
                             'CMIDMultiView.output_stride)')
        if self.num_matches > n_pos:
            raise ValueError(f'model.num_matches={self.num_matches} exceeds the {n_pos} positions '
                             'of the location grid: use at most that many')
        center = self.local_loss.center
        loss = 0.
        for a, b in ((0, 1), (1, 0)):
            s, t = position_match(grids[a], grids[b], s_feats[a], t_feats[b], self.num_matches)
            with torch.no_grad():
                t_out = self.teacher.module.local_head(t.transpose(1, 2))  # (B, D, K)
            loss = loss + self.local_loss(self.local_head(s.transpose(1, 2)), t_out, center)
            center = self.local_loss.next_center(t_out, center)
        return loss / 2, center
