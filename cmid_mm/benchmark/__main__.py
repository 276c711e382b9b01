"""``python -m cmid_mm.benchmark CONFIG``: the child process of one benchmark pretraining run
(:func:`cmid_mm.benchmark.child_run.train_one`)."""
import sys
from pathlib import Path

from .child_run import train_one

if len(sys.argv) != 2:
    raise SystemExit(f'usage: python -m cmid_mm.benchmark CONFIG (got {sys.argv[1:]})')
train_one(Path(sys.argv[1]))
