"""The RS normalisation statistics are written once, in configs/_base_/rs_norm.py."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from mmengine.config import Config

REPO = Path(__file__).resolve().parents[2]
RS_NORM = REPO / 'configs/_base_/rs_norm.py'
# any spelling of the statistics (86.18, 86.182, 34.65, ...) outside rs_norm.py
NUMBERS = re.compile(r'\b(86\.18|91\.9[23]|85\.37|34\.6[55]|34\.4[78]|35\.88?)\d*\b')
# folders whose configs other work packages move onto rs_norm.py (change detection stacks
# two images: the lists doubled; the CMID model bases hold it inside `model`)
NOT_YET = ()


def test_rs_norm_values_are_the_references_on_the_0_255_scale():
    cfg = Config.fromfile(str(RS_NORM))
    ref_mean, ref_std = [0.33797, 0.3605, 0.3348], [0.1359, 0.1352, 0.1407]
    # 255 x the reference, to 3 decimals (half up)
    assert cfg.rs_mean == pytest.approx([255 * m for m in ref_mean], abs=5.0001e-4)
    assert cfg.rs_std == pytest.approx([255 * s for s in ref_std], abs=5.0001e-4)


def test_no_other_config_writes_the_statistics():
    offenders = []
    for path in sorted((REPO / 'configs').rglob('*.py')):
        rel = path.relative_to(REPO).as_posix()
        if path == RS_NORM or rel.startswith(NOT_YET):
            continue
        for no, line in enumerate(path.read_text().splitlines(), 1):
            if NUMBERS.search(line.split('#')[0]):
                offenders.append(f'{rel}:{no}: {line.strip()}')
    assert not offenders, 'RS statistics written out again (use _base_.rs_mean / rs_std):\n' + \
        '\n'.join(offenders)
