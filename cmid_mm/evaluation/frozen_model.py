"""Build the model whose frozen features are evaluated, from a pretraining config.

The model is the config's own (its ``data_preprocessor`` normalises the
inputs, its ``extract_feat`` gives the backbone maps); only backbone weights
are loaded, so a checkpoint of any method (CMID, MoCo v2, BYOL, SimMIM, ...)
or a bare backbone state dict (``extract_backbone.py``, ``ssl_compare.py``'s
``backbone.pth``) can be scored.
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

STUDENT_PREFIX = 'backbone.'
TEACHER_PREFIX = 'teacher.module.backbone.'
# keys a checkpoint may lack: CMID's mask token is only used on masked inputs
OPTIONAL_KEYS = ('mask_token', )


def backbone_weights(state: dict, teacher: bool = False, source: str = 'checkpoint') -> dict:
    """Unprefixed backbone weights of a full-model or bare-backbone state dict.

    Args:
        state: ``state_dict`` of a whole model (keys ``backbone.*``, and for
            CMID ``teacher.module.backbone.*``) or of a bare backbone.
        teacher: Take CMID's EMA teacher backbone (``teacher.module.backbone.*``).
        source: Name of the file, for error messages.

    Returns:
        dict: Backbone weights with the prefix removed.
    """
    prefix = TEACHER_PREFIX if teacher else STUDENT_PREFIX
    picked = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
    if picked:
        return picked
    if teacher:
        raise KeyError(f'{source}: --teacher needs keys {TEACHER_PREFIX}* (a CMID checkpoint), '
                       f'found e.g. {list(state)[:3]}')
    if any(k.startswith(('teacher.', 'target_net.', 'momentum_encoder.')) for k in state):
        raise KeyError(f'{source}: a full-model checkpoint without {STUDENT_PREFIX}* keys')
    return dict(state)  # a bare backbone


def build_frozen_model(cfg, checkpoint: str | Path | None = None, teacher: bool = False,
                       seed: int = 0) -> nn.Module:
    """The config's model, initialised with ``seed``, with backbone weights loaded.

    Args:
        cfg: An mmengine ``Config`` (or dict) with a ``model`` of the
            mmpretrain registry that has ``data_preprocessor`` and
            ``extract_feat``.
        checkpoint: Weights file (mmengine checkpoint or bare state dict);
            None: random init (``init_weights`` after ``torch.manual_seed(seed)``).
        teacher: Load CMID's EMA teacher backbone instead of the student.
        seed: Seed of the initialisation.

    Returns:
        nn.Module: The model in eval mode, with gradients off.
    """
    from mmengine.logging import MessageHub
    from mmpretrain.registry import MODELS

    import cmid_mm  # noqa: F401  (registers CMID and its parts)
    from cmid_mm.utils import safe_load_checkpoint
    model_cfg = cfg['model']
    model_cfg = model_cfg.to_dict() if hasattr(model_cfg, 'to_dict') else dict(model_cfg)
    hub = MessageHub.get_current_instance()
    if hub.get_info('max_iters') is None:  # EMA schedules read it when built
        hub.update_info('max_iters', 1)
    torch.manual_seed(seed)
    model = MODELS.build(model_cfg)
    model.init_weights()
    if checkpoint is not None:
        ckpt = safe_load_checkpoint(checkpoint)
        state = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else None
        if not isinstance(state, dict):
            raise ValueError(f'{checkpoint}: expected a state dict, found {type(ckpt).__name__}')
        weights = backbone_weights(state, teacher, str(checkpoint))
        missing, unexpected = model.backbone.load_state_dict(weights, strict=False)
        missing = [k for k in missing if not k.endswith(OPTIONAL_KEYS)]
        if missing or unexpected:
            raise KeyError(f'{checkpoint}: backbone weights do not fit '
                           f'{type(model.backbone).__name__} of the config: missing '
                           f'{missing[:5]}, unexpected {unexpected[:5]}')
    elif teacher:
        raise ValueError('teacher=True needs a checkpoint')
    model.requires_grad_(False)
    return model.eval()
