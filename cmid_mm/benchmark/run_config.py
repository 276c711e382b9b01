"""The resolved config of one benchmark run: a method's config + the shared budget.

``build_config`` applies what every method shares (data, batch, steps, seed, optimizer,
schedule), the method's width and short-schedule rules (:mod:`.methods`) and CMID's loss
weights; ``dump_config`` writes it so that ``tools/train.py`` runs it as it is.
"""
from __future__ import annotations

from pathlib import Path

from .budget import Budget, warmup_cosine
from .methods import METHODS, short_schedule_patch, width_patch


def at_size(t: dict, size: int) -> dict:
    """A pipeline step with its crop / resize / mask-generator size set to ``size``."""
    t = dict(t)
    kind = t.get('type')
    if kind == 'RandomResizedCrop':
        t['scale'] = size
    elif kind == 'Resize':
        t['scale'] = (size, size)
    elif kind == 'SimMIMMaskGenerator':
        t['input_size'] = size
    elif kind == 'CMIDMultiView':
        t['crop_size'] = size
        t['mask_generator'] = dict(t['mask_generator'], input_size=size)
    elif kind == 'MultiView':
        t['transforms'] = [[at_size(x, size) for x in view] for view in t['transforms']]
    return t


def vit_size_patch(model_cfg, size: int) -> dict:
    """A ViT backbone's ``img_size`` (the grid of its position embedding) and an MAE decoder's
    ``num_patches`` set to the image side ``size`` ({} for a backbone that is not a ViT).

    The stock classes would interpolate a position embedding built for another size at every
    forward; setting the size gives every ViT row (and the evaluation model) the same
    ``(size / patch)^2 + 1`` table, so exported ``pos_embed`` tensors load without resizing.

    Raises:
        ValueError: ``size`` is not a multiple of ``model.backbone.patch_size``.
    """
    from mmpretrain.models import VisionTransformer
    from mmpretrain.registry import MODELS

    import cmid_mm.models  # noqa: F401 (registers CMIDViT)
    backbone = model_cfg['backbone']
    cls = MODELS.get(backbone['type'])
    if cls is None or not issubclass(cls, VisionTransformer):
        return {}
    patch = backbone.get('patch_size', 16)
    if size % patch:
        raise ValueError(f'--crop-size {size} is not a multiple of the ViT patch size '
                         f'(model.backbone.patch_size={patch}): the token grid must tile it')
    out = {'model.backbone.img_size': size}
    if (model_cfg.get('neck') or {}).get('type') == 'MAEPretrainDecoder':
        out['model.neck.num_patches'] = (size // patch) ** 2
    return out


def build_config(path: Path, budget: Budget, data_root: Path, run_dir: Path, method: str,
                 seed: int, epochs: int, num_tiles: int, width: int | None,
                 loss_weights: dict | None = None):
    """Load a method's config and apply the settings every method shares, its width and its
    short-schedule rules (and CMID's ``loss_weights``).

    Args:
        path: The method's pretraining config.
        budget: The shared batch, lr, size, workers, tile subset and AMP switch.
        data_root: Folder of the pretraining tiles. run_dir: The run's work dir.
        method: Key of :data:`~.methods.METHODS`. seed: ``randomness.seed``.
        epochs: Whole epochs (:func:`~.budget.plan_epochs`).
        num_tiles: Tiles the run trains on (for the short-schedule rules).
        width: ResNet stem/base channels (None: the config's).
        loss_weights: Replaces the method's ``loss_weights`` (CMID ablations).

    Returns:
        mmengine.Config: The resolved config.
    """
    import torch
    from mmengine.config import Config
    cfg = Config.fromfile(str(path))
    cfg.work_dir = str(run_dir)
    loader = cfg.train_dataloader
    loader.batch_size = budget.batch_size
    loader.num_workers = budget.num_workers
    loader.persistent_workers = budget.num_workers > 0
    loader.pin_memory = False
    loader.drop_last = True
    loader.sampler = dict(type='DefaultSampler', shuffle=True)
    # re-declared: configs inherited through 'mmpretrain::' get a `_scope_` key here, which
    # mmengine would pass on to the collate function
    loader.collate_fn = dict(type='default_collate')
    loader.dataset.data_root = str(data_root)
    loader.dataset.data_prefix = ''
    if budget.tiles:
        loader.dataset.indices = budget.tiles
    loader.dataset.pipeline = [at_size(t, budget.crop_size) for t in loader.dataset.pipeline]
    patch = {**width_patch(method, cfg.model, width),
             **vit_size_patch(cfg.model, budget.crop_size),
             **short_schedule_patch(method, num_tiles, budget.batch_size, epochs)}
    default_weights = METHODS[method].loss_weights
    if default_weights is not None:
        patch['model.loss_weights'] = dict(loss_weights or default_weights)
    cfg.merge_from_dict(patch)
    cfg.train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=epochs)
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    amp = budget.amp and torch.cuda.is_available()
    cfg.optim_wrapper = dict(
        type='AmpOptimWrapper' if amp else 'OptimWrapper',
        optimizer=dict(type='Adan', lr=budget.lr, weight_decay=0.02, betas=(0.98, 0.92, 0.99),
                       **METHODS[method].optimizer_options),
        paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0,
                           custom_keys={'mask_token': dict(decay_mult=0.)}))
    if amp:
        cfg.optim_wrapper.dtype = 'bfloat16'
    cfg.param_scheduler = warmup_cosine(epochs)
    cfg.auto_scale_lr = dict(enable=False, base_batch_size=budget.batch_size)
    cfg.randomness = dict(seed=seed, diff_rank_seed=False, deterministic=False)
    cfg.default_hooks.checkpoint = None  # the child saves the backbone itself
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=10)
    cfg.default_hooks.visualization = dict(type='VisualizationHook', enable=False)
    cfg.launcher = 'none'
    if not torch.cuda.is_available():
        cfg.env_cfg.dist_cfg = dict(backend='gloo')
    return cfg


def dump_config(cfg, path: Path) -> Path:
    """``cfg.dump(path)``, with CMID's ``model.loss_weights`` written as a literal mapping.

    mmengine's dump writes a dict whose keys are identifiers as ``dict(key=...)``, which
    for the key ``global`` (a Python keyword) is a syntax error; the weights are therefore
    left out of the dump and set by a statement at the end of the file.
    """
    weights = cfg.model.pop('loss_weights', None)
    try:
        cfg.dump(str(path))
    finally:
        if weights is not None:
            cfg.model.loss_weights = weights
    if weights is not None:
        with open(path, 'a') as f:
            f.write('\n# set here: mmengine would dump dict(global=...), a syntax error\n'
                    f'model[\'loss_weights\'] = {dict(weights)!r}\n')
    return path


def eval_config(cmid_config: Path, width: int | None, path: Path,
                crop_size: int | None = None) -> Path:
    """The one config every row of a table is evaluated with: CMID's model (``cmid_config``)
    at the benchmark's width (its ``data_preprocessor`` normalises; ``extract_feat`` is the
    backbone) and, for a ViT, with the position embedding of the pretraining ``crop_size``
    (:func:`vit_size_patch`). Bare backbone weights of every method load into it. Written
    to ``path``."""
    from mmengine.config import Config
    cfg = Config.fromfile(str(cmid_config))
    cfg.merge_from_dict(width_patch('cmid', cfg.model, width))
    if crop_size is not None:
        cfg.merge_from_dict(vit_size_patch(cfg.model, crop_size))
    path.parent.mkdir(parents=True, exist_ok=True)
    cfg.dump(str(path))
    return path
