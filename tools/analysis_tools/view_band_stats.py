"""How much each photometric op of a CMID config's strong view moves each band, in the
units the model sees: normalised by the config's ``model.data_preprocessor.std``.

For every op of the strong view (``CMIDMultiView.view_pipelines[1]``), run alone with
``prob=1`` on the config's own training images (loaded and resized by the steps of
``train_pipeline`` before ``CMIDMultiView``), the change ``(op(x) - x) / std_b`` of every
band ``b``: its root mean square and its largest absolute value over all pixels of
``--images`` images x ``--draws`` draws. The RGB recipe moves every band by less than
one std (colour jitter ~0.9, noise ~0.15, solarize ~2 rms); a band moved by tens of stds
makes its reconstruction target mostly augmentation (docs/benchmarks.md, "Multispectral:
why 13-band loss_rec rose").

Examples::

    python tools/analysis_tools/view_band_stats.py \\
        configs/cmid/cmid_resnet18_1xb32-adan-20e_s2-13band-128.py
    python tools/analysis_tools/view_band_stats.py \\
        configs/cmid/cmid_resnet18_1xb32-adan-20e_s2-tiles-128.py --json rgb.json
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    from mmengine.config import DictAction
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('config')
    p.add_argument('--images', type=int, default=16, help='training images (default 16)')
    p.add_argument('--draws', type=int, default=4, help='draws of each op per image')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--data-root', help='folder of training images (default: the config\'s; '
                   'the built pretrain tiles of its band count when that does not exist)')
    p.add_argument('--json', help='write the result here')
    p.add_argument('--cfg-options', nargs='+', action=DictAction, default={})
    return p.parse_args(argv)


def strong_view_ops(cfg) -> tuple[list[dict], list[dict]]:
    """(pipeline steps before ``CMIDMultiView``, the strong view's op configs)."""
    pipeline = [dict(t) for t in cfg.train_dataloader.dataset.pipeline]
    for i, t in enumerate(pipeline):
        if t['type'] == 'CMIDMultiView':
            return pipeline[:i], [dict(op) for op in t['view_pipelines'][1]]
    raise ValueError(f'{cfg.filename}: train_dataloader.dataset.pipeline has no CMIDMultiView')


def measure(cfg, files: list[Path], draws: int = 4, seed: int = 0) -> dict:
    """Per op and band: rms and max |change| of the normalised image.

    Returns:
        dict: ``{'std': [...], 'ops': {op type: {'rms': [...], 'max': [...]}}}``.
    """
    from mmcv.transforms import Compose
    from mmpretrain.registry import TRANSFORMS
    before, ops = strong_view_ops(cfg)
    std = np.asarray(cfg.model.data_preprocessor['std'], dtype=np.float64)
    load = Compose([TRANSFORMS.build(t) for t in before])
    imgs = [load(dict(img_path=str(f)))['img'] for f in files]
    out = dict(std=std.tolist(), images=len(imgs), draws=draws, ops={})
    for op_cfg in ops:
        op = TRANSFORMS.build({**op_cfg, 'prob': 1.0})
        np.random.seed(seed)
        sq = np.zeros(len(std))
        peak = np.zeros(len(std))
        n = 0
        for img in imgs:
            for _ in range(draws):
                diff = (op(dict(img=img.copy()))['img'].astype(np.float64) - img) / std
                diff = diff.reshape(-1, len(std))
                sq += (diff ** 2).sum(0)
                peak = np.maximum(peak, np.abs(diff).max(0))
                n += diff.shape[0]
        out['ops'][op_cfg['type']] = dict(rms=np.sqrt(sq / n).tolist(), max=peak.tolist())
    return out


def format_table(result: dict, names: list[str]) -> str:
    lines = ['op | ' + ' | '.join(names), '---|' + '---:|' * len(names)]
    for op, r in result['ops'].items():
        lines.append(f'{op} rms | ' + ' | '.join(f'{v:.2f}' for v in r['rms']))
        lines.append(f'{op} max | ' + ' | '.join(f'{v:.1f}' for v in r['max']))
    return '\n'.join(lines)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    from mmengine.config import Config

    import cmid_mm  # noqa: F401  (registers the transforms)
    from cmid_mm.utils.train_files import training_files
    cfg = Config.fromfile(args.config)
    cfg.merge_from_dict(args.cfg_options)
    files = training_files(cfg, args.data_root)
    step = max(1, len(files) // args.images)
    result = measure(cfg, files[::step][:args.images], args.draws, args.seed)
    names = cfg.get('band_names') or [f'band{b}' for b in range(len(result['std']))]
    print(f'{args.config}: normalised change per band, {result["images"]} images x '
          f'{result["draws"]} draws, each op alone at prob 1')
    print(format_table(result, list(names)))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return result


if __name__ == '__main__':
    main()
