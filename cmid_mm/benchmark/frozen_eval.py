"""The frozen-feature evaluation of one benchmark row: ``eval_frozen.py``'s argv, one call.

Every table row (a pretrained backbone, or the network at random init with the colour
baselines) is scored by ``tools/analysis_tools/eval_frozen.py`` with the same config, BN
protocol, sets and probes (:class:`FrozenProtocol`); :func:`evaluate` builds its argv in
one place and runs the command's code (:func:`cmid_mm.evaluation.frozen_cli.main`) in this
process (stdout to a log beside the JSON) or, for ``make demo``, the tool as a child
process. :func:`flat_scores` gives the tables' score keys.
"""
from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..evaluation.frozen_cli import DENSE_SETS, SCENE_SETS  # noqa: F401 (re-exported)
from ..evaluation.frozen_cli import main as eval_frozen_main
from .methods import REPO

EVAL_TOOL = REPO / 'tools' / 'analysis_tools' / 'eval_frozen.py'


@dataclass(frozen=True)
class FrozenProtocol:
    """What every row of a table shares in its evaluation.

    Attributes:
        bn_recalib: BN recalibration batches of 32 clean tiles (0: keep the statistics).
        scene_sets / dense_sets: The sets scored.
        micro: ``eval_frozen --micro`` (every 8th scene / 4th dense tile, <= 2 BN batches).
        data_root: Dataset cache root (None: the default).
        threads: Torch threads of the evaluation (None: torch's default).
        dense_pixels: Also the dense probe on the backbone map concatenated with each
            pixel's input values (``eval_frozen --dense-pixels``).
    """
    bn_recalib: int
    scene_sets: Sequence[str]
    dense_sets: Sequence[str]
    micro: bool = False
    data_root: str | None = None
    threads: int | None = None
    dense_pixels: bool = False


def eval_frozen_argv(config: Path, weights: Path | None, out: Path, seed: int,
                     bn_tiles: Path, protocol: FrozenProtocol, color: bool) -> list[str]:
    """The ``eval_frozen.py`` argv of one row: ``weights`` (None: ``--random-init``) on
    ``config``, JSON to ``out``; ``color``: also the colour baselines."""
    argv = [str(config), *([str(weights)] if weights else ['--random-init']),
            '--bn-recalib', str(protocol.bn_recalib), '--bn-tiles', str(bn_tiles),
            '--seed', str(seed), '--out', str(out),
            '--scene-sets', *protocol.scene_sets, '--dense-sets', *protocol.dense_sets]
    if not color:
        argv.append('--no-color')
    if protocol.micro:
        argv.append('--micro')
    if protocol.data_root:
        argv += ['--data-root', str(protocol.data_root)]
    if protocol.threads:
        argv += ['--threads', str(protocol.threads)]
    if protocol.dense_pixels:
        argv.append('--dense-pixels')
    return argv


def evaluate(config: Path, weights: Path | None, out: Path, seed: int, bn_tiles: Path,
             protocol: FrozenProtocol, color: bool, in_process: bool = True) -> dict:
    """Score one backbone (``weights``; None: random init) with ``eval_frozen``.

    Args:
        config: The evaluation config of every row (:func:`~.run_config.eval_config`).
        weights: A checkpoint or bare backbone weights; None: random init.
        out: Its JSON; ``in_process``: its stdout goes to ``out`` with suffix ``.log``.
        seed: Seed of the init and of the probes.
        bn_tiles: Clean tiles of the BN recalibration.
        protocol: The settings every row shares.
        color: Also score the colour baselines.
        in_process: Run ``main`` in this process; else ``python eval_frozen.py`` (stdout
            discarded, stderr shown).

    Returns:
        The result ``eval_frozen`` wrote to ``out``.
    """
    argv = eval_frozen_argv(config, weights, out, seed, bn_tiles, protocol, color)
    out.parent.mkdir(parents=True, exist_ok=True)
    if not in_process:
        subprocess.run([sys.executable, str(EVAL_TOOL), *argv], check=True, cwd=REPO,
                       stdout=subprocess.DEVNULL)
        return json.loads(out.read_text())
    with open(out.with_suffix('.log'), 'w') as f, contextlib.redirect_stdout(f):
        return eval_frozen_main(argv)


def flat_scores(result: dict, color: bool = False) -> dict[str, float]:
    """The table's scores of one ``eval_frozen`` result (the colour baseline's with
    ``color``): ``<set>/knn``, ``<set>/linear`` of each scene set, ``<set>/miou`` of each
    dense set, and ``<set>/miou_pixels`` of each dense set scored with ``--dense-pixels``
    (not with ``color``: the colour baseline is the pixels alone)."""
    scene, dense = ((result['color'], result['dense_color']) if color else
                    (result['scene'], result['dense']))
    out = {}
    for name, r in scene.items():
        out[f'{name}/knn'], out[f'{name}/linear'] = r['knn_top1'], r['linear_top1']
    for name, r in dense.items():
        out[f'{name}/miou'] = r['miou']
    if not color:
        for name, r in (result.get('dense_pixels') or {}).items():
            out[f'{name}/miou_pixels'] = r['miou']
    return out
