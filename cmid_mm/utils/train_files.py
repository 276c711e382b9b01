"""The training images of a pretraining config, for the analysis tools."""
from __future__ import annotations

from pathlib import Path

__all__ = ['training_files']


def training_files(cfg, data_root: str | None = None) -> list[Path]:
    """The images of ``cfg.train_dataloader.dataset`` (or of ``data_root``), sorted.

    When the config's folder does not exist here (e.g. MillionAID) and no ``data_root``
    is given, the built pretraining tiles stand in (``pretrain/msi`` for a GeoTIFF
    dataset, ``pretrain/rgb`` otherwise; :func:`cmid_mm.rsdata.build_pretrain_tiles`).

    Raises:
        FileNotFoundError: no image with the dataset's extensions in the folder.
    """
    ds = cfg.train_dataloader.dataset
    exts = tuple(e.lower() for e in ds.get('extensions', ('.png', '.jpg', '.jpeg')))
    root = Path(data_root or ds.data_root)
    if not root.is_dir() and data_root is None:
        from cmid_mm.rsdata import build_pretrain_tiles
        root = build_pretrain_tiles() / ('msi' if '.tif' in exts else 'rgb')
    files = sorted(f for f in root.rglob('*') if f.suffix.lower() in exts)
    if not files:
        raise FileNotFoundError(f'{root}: no training images with extensions {exts}')
    return files
