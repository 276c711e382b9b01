"""Build-time checks of a CMID model config: say which key is wrong and what is allowed."""
import math

import torch.nn as nn

LOSS_TERMS = ('rec', 'global', 'local')


def check_loss_weights(loss_weights: dict | None) -> dict[str, float]:
    """Merge ``model.loss_weights`` into the defaults (1 each) after checking it.

    Keys are the terms ``rec`` / ``global`` / ``local`` or, equally, the logged
    loss names ``loss_rec`` / ``loss_global`` / ``loss_local``. Configs should use
    the ``loss_*`` names: ``global`` is a Python keyword, and mmengine's
    ``Config.dump`` writes such a dict as ``dict(global=...)``, which does not
    load again (a dumped run config would be unusable).

    Returns:
        dict: ``{'rec': w, 'global': w, 'local': w}``.

    Raises:
        ValueError: An unknown key (e.g. a typo), a term given twice, or a
            weight that is not a finite number >= 0.
    """
    merged: dict[str, float] = {}
    for key, w in dict(loss_weights or {}).items():
        term = key[len('loss_'):] if key.startswith('loss_') else key
        if term not in LOSS_TERMS:
            raise ValueError(
                f'model.loss_weights has unknown keys {[key]}; allowed keys are '
                f'{list(LOSS_TERMS)} (or {["loss_" + t for t in LOSS_TERMS]}, which survive '
                'Config.dump)')
        if term in merged:
            raise ValueError(f'model.loss_weights gives the {term!r} term twice '
                             f'({term!r} and {"loss_" + term!r})')
        if not isinstance(w, (int, float)) or not math.isfinite(w) or w < 0:
            raise ValueError(f'model.loss_weights.{key} must be a finite number >= 0, got {w!r}')
        merged[term] = float(w)
    return {**{k: 1. for k in LOSS_TERMS}, **merged}


def check_teacher(teacher: dict) -> None:
    """Check the EMA teacher's momentum, given in mmengine's convention.

    mmengine's averaged models take ``momentum`` = the weight of the *student*
    in each update, i.e. ``1 - m`` for a teacher momentum ``m`` (0.004 for
    MoCo/BYOL's 0.996). A value above 0.5 almost surely is the teacher
    momentum written in the other convention, which makes the teacher a copy
    of the student.
    """
    if 'momentum' in teacher:
        mom = teacher['momentum']
        if not 0 < mom <= 0.5:
            raise ValueError(
                f'model.teacher.momentum must be in (0, 0.5], got {mom}: it is mmengine\'s '
                'convention, the weight of the student per update (1 - teacher momentum), '
                f'e.g. 0.004 for a teacher momentum of 0.996' +
                (f'; {mom} looks like the teacher momentum itself (use {1 - mom:.6g})'
                 if 0.5 < mom < 1 else ''))
    if 'end_momentum' in teacher:
        end = teacher['end_momentum']
        if not 0 <= end <= 0.5:
            raise ValueError(f'model.teacher.end_momentum must be in [0, 0.5] (mmengine '
                             f'convention; 0 = teacher frozen at the end), got {end}')


def check_num_matches(num_matches: int) -> None:
    """``model.num_matches`` is a positive int (its upper bound is checked per batch)."""
    if not isinstance(num_matches, int) or num_matches < 1:
        raise ValueError(f'model.num_matches must be an int >= 1 (and <= the positions of the '
                         f'location grid), got {num_matches!r}')


def backbone_out_channels(backbone: nn.Module) -> int | None:
    """Channels of the backbone's last feature map, or None when unknown."""
    if isinstance(getattr(backbone, 'feat_dim', None), int):  # mmpretrain ResNet
        return backbone.feat_dim
    stages = getattr(backbone, 'stages', None)  # mmpretrain SwinTransformer
    if stages is not None and hasattr(stages[-1], 'out_channels'):
        return stages[-1].out_channels
    if hasattr(backbone, 'patch_embed') and isinstance(getattr(backbone, 'embed_dims', None),
                                                       int):  # mmpretrain VisionTransformer
        return backbone.embed_dims
    return None


def check_stride(backbone: nn.Module, neck: dict) -> None:
    """The MIM decoder upsamples by the backbone's output stride (``backbone.out_stride``).

    Raises:
        ValueError: ``model.neck.encoder_stride`` differs from the backbone's stride.
    """
    stride = getattr(backbone, 'out_stride', None)
    enc = neck.get('encoder_stride')
    if stride is not None and enc is not None and enc != stride:
        raise ValueError(f'model.neck.encoder_stride={enc} must equal the backbone output '
                         f'stride {stride} ({type(backbone).__name__}.out_stride; the patch '
                         'size for a ViT, 32 for ResNet / Swin)')


def check_token_grid(backbone: nn.Module, num_matches: int) -> None:
    """A ViT's configured token grid (``img_size // patch_size`` squared) holds ``num_matches``.

    Only backbones that know their input size (ViT's ``patch_resolution``) are
    checked here; for the others the bound is checked per batch.

    Raises:
        ValueError: naming ``model.num_matches`` and ``model.backbone.img_size``.
    """
    res = getattr(backbone, 'patch_resolution', None)
    if res is None or hasattr(backbone, 'stages'):  # Swin's is of its stage 0, not the output
        return
    positions = int(res[0]) * int(res[1])
    if num_matches > positions:
        raise ValueError(f'model.num_matches={num_matches} exceeds the {positions} positions of '
                         f'the token grid {tuple(res)} (model.backbone.img_size // '
                         'model.backbone.patch_size per side): lower num_matches or use a '
                         'larger crop')


def check_dims(backbone: nn.Module, neck: dict, projector: dict, global_head: dict,
               local_head: dict, local_loss: dict) -> None:
    """Check that the channel counts of the configured pieces agree.

    Raises:
        ValueError: naming both keys and both values.
    """
    pairs = []
    out = backbone_out_channels(backbone)
    if out is not None:
        for name, cfg in (('neck', neck), ('projector', projector), ('local_head', local_head)):
            pairs.append(('backbone output channels', out, f'model.{name}.in_channels',
                          cfg.get('in_channels')))
    proj_out = projector.get('out_channels')
    if 'feat_dim' in global_head or global_head.get('type') == 'CMIDMoCoHead':
        pairs.append(('model.projector.out_channels', proj_out, 'model.global_head.feat_dim',
                      global_head.get('feat_dim', 256)))
    if isinstance(global_head.get('predictor'), dict):
        pairs.append(('model.projector.out_channels', proj_out,
                      'model.global_head.predictor.in_channels',
                      global_head['predictor'].get('in_channels')))
    pairs.append(('model.local_head.out_channels', local_head.get('out_channels', 2048),
                  'model.local_loss.out_dim', local_loss.get('out_dim', 2048)))
    for a, va, b, vb in pairs:
        if va is not None and vb is not None and va != vb:
            raise ValueError(f'{b}={vb} must equal {a}={va}')
