"""Train a model from a config, like mmpretrain's / mmseg's / mmdet's tools/train.py.

Works for CMID pretraining (scope mmpretrain) and for the downstream configs
(mmpretrain, mmseg, mmdet, mmrotate scopes): ``import cmid_mm`` registers our
modules and the config's ``default_scope`` picks the package's registries.
"""
import argparse
import os
import os.path as osp
import sys

import torch
from mmengine.config import Config, DictAction
from mmengine.runner import Runner

import cmid_mm  # noqa: F401  (registers modules, weights_only=True loading everywhere)
from cmid_mm.engine import (
    NothingToResumeError,
    RNGStateHook,
    check_adan_foreach,
    check_bf16_supported,
    checkpoint_problem,
    find_resume_checkpoint,
    remove_interrupted_writes,
)
from cmid_mm.export import PretrainedLoadCheckHook
from cmid_mm.utils.dist import close_distributed, setup_cpu_distributed


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--resume', nargs='?', type=str, const='auto',
        help='If specify checkpoint path, resume from it, while if not '
        'specify, try to auto resume from the latest checkpoint '
        'in the work directory.')
    parser.add_argument('--amp', nargs='?', const='fp16', default=None,
                        choices=['fp16', 'bf16'],
                        help='automatic mixed precision: --amp or --amp fp16 = mmengine '
                        "AmpOptimWrapper (fp16, dynamic loss scale); --amp bf16 = bf16 autocast "
                        'without a loss scaler (BF16AutocastOptimWrapper)')
    parser.add_argument('--no-validate', action='store_true',
                        help='whether not to evaluate the checkpoint during training')
    parser.add_argument('--auto-scale-lr', action='store_true',
                        help='whether to auto scale the learning rate according to the '
                        'actual batch size and the original batch size.')
    parser.add_argument('--no-pin-memory', action='store_true',
                        help='whether to disable the pin_memory option in dataloaders.')
    parser.add_argument('--no-persistent-workers', action='store_true',
                        help='whether to disable the persistent_workers option in dataloaders.')
    parser.add_argument(
        '--views', choices=['worker', 'device'],
        help="CMID configs: run the views' photometric ops per image in the data workers "
        "(the reference's way) or batched on the training device "
        '(cmid_mm.utils.view_placement); default: where the config puts them')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override some settings in the used config, the key-value pair '
        'in xxx=yyy format will be merged into config file. If the value to '
        'be overwritten is a list, it should be like key="[a,b]" or key=a,b '
        'It also allows nested list/tuple values, e.g. key="[(a,b),(c,d)]" '
        'Note that the quotation marks are necessary and that no white space '
        'is allowed.')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def merge_args(cfg: Config, args: argparse.Namespace) -> Config:
    """Merge CLI arguments into the config (mmpretrain's semantics)."""
    if args.no_validate:
        cfg.val_cfg = None
        cfg.val_dataloader = None
        cfg.val_evaluator = None
    cfg.launcher = args.launcher
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    if args.amp == 'bf16':
        optim_wrapper = cfg.optim_wrapper.get('type', 'OptimWrapper')
        if optim_wrapper != 'OptimWrapper':
            raise ValueError(f'--amp bf16 replaces optim_wrapper.type OptimWrapper by '
                             f'BF16AutocastOptimWrapper, but the config has {optim_wrapper!r}')
        cfg.optim_wrapper.type = 'BF16AutocastOptimWrapper'
        check_bf16_supported('cuda' if torch.cuda.is_available() else 'cpu')
    elif args.amp:
        optim_wrapper = cfg.optim_wrapper.get('type', 'OptimWrapper')
        assert optim_wrapper in ['OptimWrapper', 'AmpOptimWrapper'], \
            '`--amp` is not supported custom optimizer wrapper type ' \
            f'`{optim_wrapper}.'
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume
    if args.auto_scale_lr:
        cfg.auto_scale_lr.enable = True

    def set_default_dataloader_cfg(cfg: Config, field: str) -> None:
        if cfg.get(field, None) is None:
            return
        dataloader_cfg = cfg[field]
        dataloader_cfg.setdefault('persistent_workers', True)
        if args.no_pin_memory:
            dataloader_cfg['pin_memory'] = False
        if args.no_persistent_workers:
            dataloader_cfg['persistent_workers'] = False
        if dataloader_cfg.get('num_workers', 0) == 0:
            dataloader_cfg['persistent_workers'] = False

    # --cfg-options first, so that e.g. num_workers=0 also drops persistent_workers
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if getattr(args, 'views', None):
        from cmid_mm.utils.view_placement import place_photometric
        place_photometric(cfg, args.views)
    for field in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        set_default_dataloader_cfg(cfg, field)
    return cfg


# optimizer wrappers that do not step on a non-finite loss (AMP: the GradScaler skips it)
SKIPPING_OPTIM_WRAPPERS = ('SkipNonFiniteOptimWrapper', 'AmpOptimWrapper')


def use_atomic_checkpoints(cfg: Config) -> None:
    """Save checkpoints through the ``atomic_local`` backend unless the config chose a backend.

    The CMID configs set it in their runtime; this gives downstream configs
    (mmseg, mmdet, ...) the same guarantee when they are trained with this
    tool. A config that sets ``backend_args`` / ``file_client_args``, or saves
    to a remote ``out_dir`` (``s3://...``), is left alone.
    """
    hooks = cfg.setdefault('default_hooks', {})
    ckpt = hooks.get('checkpoint')
    if ckpt is None:
        ckpt = hooks['checkpoint'] = dict(type='CheckpointHook', interval=1)
    if ckpt.get('backend_args') is not None or ckpt.get('file_client_args') is not None:
        return
    if '://' in str(ckpt.get('out_dir') or ''):
        return
    ckpt['backend_args'] = dict(backend='atomic_local')


def check_nonfinite_skip(cfg: Config) -> None:
    """``model.nonfinite_loss='skip'`` needs an optimizer wrapper that skips the step.

    With the default ``OptimWrapper`` the model would log "step will be
    skipped" while the NaN gradients go into the weights.

    Raises:
        ValueError: naming both keys and the wrappers that work.
    """
    if cfg.get('model', {}).get('nonfinite_loss', 'raise') != 'skip':
        return
    kind = cfg.get('optim_wrapper', {}).get('type', 'OptimWrapper')
    if kind not in SKIPPING_OPTIM_WRAPPERS:
        raise ValueError(
            f"{cfg.filename}: model.nonfinite_loss='skip' needs optim_wrapper.type in "
            f'{SKIPPING_OPTIM_WRAPPERS}, found {kind!r}: with it a non-finite loss would update '
            "the weights. Set optim_wrapper.type='SkipNonFiniteOptimWrapper' or "
            "model.nonfinite_loss='raise'.")


def checkpoint_dirs(cfg: Config) -> list[str]:
    """The folders this run saves checkpoints into (work dir, and ``out_dir/<work dir name>``)."""
    dirs = [cfg.work_dir]
    out_dir = cfg.get('default_hooks', {}).get('checkpoint', {}).get('out_dir')
    if out_dir and '://' not in str(out_dir):
        dirs.append(osp.join(out_dir, osp.basename(osp.abspath(cfg.work_dir))))
    return dirs


def prepare_resume(cfg: Config) -> list[str]:
    """Resolve ``--resume`` to a checkpoint path before the Runner starts.

    mmengine's auto-resume logs "Auto resumed from ... None" and trains from
    scratch when there is nothing to resume, and fails with torch's raw
    error on a truncated newest checkpoint. Here: nothing to resume is an
    error that says so; a truncated or corrupt newest checkpoint is skipped
    (and reported) in favour of the newest complete one; an explicit
    ``--resume PATH`` must be a complete checkpoint.

    Returns:
        list[str]: Messages for the run's log.

    Raises:
        NothingToResumeError: There is no (complete) checkpoint to resume from.
    """
    if not cfg.get('resume', False):
        return []
    if cfg.get('load_from') is not None:  # --resume PATH
        problem = checkpoint_problem(cfg.load_from)
        if problem is not None:
            raise NothingToResumeError(f'--resume {cfg.load_from}: {problem}')
        return [f'Resuming from {cfg.load_from}']
    path, skipped = find_resume_checkpoint(cfg.work_dir)
    cfg.load_from = path
    msgs = [f'Skipping checkpoint {p}: {reason}' for p, reason in skipped]
    note = ' (the newest complete checkpoint)' if skipped else ''
    return msgs + [f'Resuming from {path}{note}']


def main() -> None:
    args = parse_args()
    cfg = Config.fromfile(args.config)
    cfg = merge_args(cfg, args)
    check_nonfinite_skip(cfg)
    check_adan_foreach(cfg.get('optim_wrapper', {}))
    use_atomic_checkpoints(cfg)
    try:
        messages = prepare_resume(cfg)
    except NothingToResumeError as e:
        sys.exit(f'error: {e}')
    removed = []
    rank = os.environ.get('RANK', os.environ.get('SLURM_PROCID', '0'))
    if int(rank) == 0:  # one process cleans, before anything saves
        for d in checkpoint_dirs(cfg):
            removed += remove_interrupted_writes(d)
    # CPU-only machines (CI, laptops): gloo instead of NCCL
    setup_cpu_distributed(cfg, args.launcher)
    runner = Runner.from_cfg(cfg)
    for p in removed:
        runner.logger.warning(f'Removed {p}: temporary file of a checkpoint save that was '
                              'interrupted')
    for m in messages:
        runner.logger.log(30 if m.startswith('Skipping') else 20, m)
    # bit-exact --resume: the main process's python/numpy/torch RNG streams go into checkpoints
    if not any(isinstance(h, RNGStateHook) for h in runner.hooks):
        runner.register_hook(RNGStateHook())
    # no silent loads: a Pretrained init that placed (almost) none of its file's weights fails
    if not any(isinstance(h, PretrainedLoadCheckHook) for h in runner.hooks):
        runner.register_hook(PretrainedLoadCheckHook())
    runner.train()
    close_distributed()  # every rank exits cleanly (no gloo abort at shutdown)


if __name__ == '__main__':
    main()
