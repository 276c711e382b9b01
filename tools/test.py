"""Evaluate a checkpoint from a config (mmpretrain/mmseg/mmdet-style tools/test.py)."""
import argparse
import os
import os.path as osp

from mmengine.config import Config, DictAction
from mmengine.runner import Runner

import cmid_mm  # noqa: F401  (registers modules, allows mmengine checkpoint types)
from cmid_mm.utils.dist import close_distributed, setup_cpu_distributed


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test (and eval) a model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='the directory to save the file containing evaluation '
                        'metrics')
    parser.add_argument('--out', help='the file to output results (pickle/json via mmengine '
                        'DumpResults)')
    parser.add_argument('--show-dir', help='directory where painted predictions are saved '
                        '(segmentation and change detection: image(s) | GT | prediction)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override some settings in the used config, xxx=yyy format')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def enable_show_dir(cfg: Config, show_dir: str) -> None:
    """Switch on the config's visualization hook, writing PNGs to ``show_dir``.

    Follows each package's own ``tools/test.py``: mmseg draws through the
    visualizer's ``save_dir``, mmdet/mmrotate take ``test_out_dir``, mmpretrain
    and our ``CDVisualizationHook`` take ``out_dir``.
    """
    vis = cfg.get('default_hooks', {}).get('visualization')
    if vis is None:
        raise ValueError(f'{cfg.filename} has no default_hooks.visualization: --show-dir needs '
                         'a visualization hook (e.g. SegVisualizationHook, CDVisualizationHook)')
    kind = vis['type']
    if kind == 'SegVisualizationHook':
        vis['draw'] = True
        cfg.visualizer['save_dir'] = show_dir
    elif kind == 'DetVisualizationHook':
        vis['draw'] = True
        vis['test_out_dir'] = show_dir
    elif kind == 'VisualizationHook':  # mmpretrain
        vis['enable'] = True
        vis['out_dir'] = show_dir
    else:  # CDVisualizationHook and hooks with the same interface
        vis['draw'] = True
        vis['out_dir'] = show_dir


def main() -> None:
    args = parse_args()
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    cfg.load_from = args.checkpoint
    if args.show_dir:
        enable_show_dir(cfg, args.show_dir)
    if args.out:
        cfg.test_evaluator = [*cfg.test_evaluator] if isinstance(
            cfg.test_evaluator, (list, tuple)) else [cfg.test_evaluator]
        cfg.test_evaluator.append(dict(type='DumpResults', out_file_path=args.out))
    # CPU-only machines (CI, laptops): gloo instead of NCCL
    setup_cpu_distributed(cfg, args.launcher)
    runner = Runner.from_cfg(cfg)
    metrics = runner.test()
    close_distributed()
    print(metrics)


if __name__ == '__main__':
    main()
