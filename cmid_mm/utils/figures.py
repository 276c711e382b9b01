"""Figures of a CMID run: loss curves and masked-image reconstructions."""
import json
from pathlib import Path

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

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


@torch.no_grad()
def plot_reconstructions(model: torch.nn.Module, image_dir: str | Path, cfg,
                         out: str | Path, num: int = 4, seed: int = 0) -> Path:
    """Original | masked | reconstruction rows for ``num`` images of ``image_dir``.

    Runs the config's training pipeline (view A of each image), the student
    on the masked view and the MIM decoder, and de-normalises for display.
    """
    from mmengine.dataset import Compose, default_collate
    from mmpretrain.registry import TRANSFORMS

    from ..models.heads.mim_head import upsample_mask
    files = sorted(Path(image_dir).glob('*.png'))[:num]
    pipeline = Compose([TRANSFORMS.build(t) for t in cfg.train_pipeline])
    np.random.seed(seed)
    batch = default_collate([pipeline(dict(img_path=str(f))) for f in files])
    model.eval()
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
