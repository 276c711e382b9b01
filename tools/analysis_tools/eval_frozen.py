"""Frozen-feature evaluation of one pretrained (or random-init) backbone: scene kNN / linear
probe, dense linear probe and the colour baselines, one BatchNorm protocol for every method.

The command of :mod:`cmid_mm.evaluation.frozen_cli` (its docstring has the protocol, the sets
and examples; ``--help`` the options), which the benchmarks import instead of this file::

    python tools/analysis_tools/eval_frozen.py CONFIG CHECKPOINT --bn-recalib 8 --out r.json
    python tools/analysis_tools/eval_frozen.py CONFIG --random-init --seed 1
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
