"""Comparing a state dict with a module's own keys and shapes."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import torch
from torch import nn


def prefix_summary(keys: list[str], depth: int = 1) -> dict[str, int]:
    """How many keys start with each dotted prefix of ``depth`` parts."""
    return dict(Counter('.'.join(k.split('.')[:depth]) for k in keys))


@dataclass
class KeyReport:
    """Result of comparing a state dict with a module's own state dict."""

    missing: list[str]
    unexpected: list[str]
    shape_mismatch: list[str]

    @property
    def ok(self) -> bool:
        return not (self.missing or self.unexpected or self.shape_mismatch)

    def describe(self) -> str:
        parts = []
        for name in ('missing', 'unexpected', 'shape_mismatch'):
            keys = getattr(self, name)
            if keys:
                parts.append(f'{len(keys)} {name.replace("_", " ")} key(s): {keys}')
        return '; '.join(parts) if parts else 'all keys and shapes match'


def compare_with_module(state: dict[str, torch.Tensor], module: nn.Module) -> KeyReport:
    """Missing / unexpected / shape-mismatched keys of ``state`` w.r.t. ``module``."""
    own = module.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    mismatch = sorted(f'{k}: {tuple(state[k].shape)} vs {tuple(own[k].shape)}'
                      for k in set(own) & set(state) if own[k].shape != state[k].shape)
    return KeyReport(missing, unexpected, mismatch)
