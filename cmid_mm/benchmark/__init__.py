"""Benchmark run orchestration: pretrain -> export -> frozen evaluation -> table.

The steps that ``tools/benchmark/ssl_compare.py``, ``multispectral_compare.py``,
``multispectral_probe.py``, ``downstream_compare.py`` and ``tools/demo.py`` share, one
concept per module (not imported by ``import cmid_mm``; configs do not need it):

- :mod:`.methods`: the table of methods (name -> configs, display name, short-schedule
  rules, head widths, export); a new method is one config plus one entry there.
- :mod:`.budget`: profiles, whole epochs, the shared schedule.
- :mod:`.run_config`: a method's config + the shared budget -> a runnable config.
- :mod:`.reuse`: ``--resume`` reuses a finished run only if its saved config is this call's.
- :mod:`.child_run`: one pretraining run in a child process (epoch timing, CPU seconds,
  ``stats.json``, ``backbone.pth``).
- :mod:`.export`: a method's backbone as a ``Pretrained`` file for a fine-tune.
- :mod:`.frozen_eval`: ``eval_frozen.py``'s argv and call, the tables' score keys.
- :mod:`.seeds`: mean ± sample std over seeds.
- :mod:`.row_log`: rows written as they finish (``rows.jsonl``), one table from several
  work dirs (``--collect``).
- :mod:`.tables`: Markdown cells, rows and marked sections.
"""
from .budget import MIN_ITERS, PROFILES, Budget, Profile, plan_epochs, warmup_cosine
from .child_run import child_command, child_env, run_child, run_cost, train_one
from .export import (
    backbone_tensors,
    export_backbone_prefix,
    export_cmid,
    export_for_finetune,
    export_run_backbone,
    is_run_backbone,
)
from .frozen_eval import (
    DENSE_SETS,
    SCENE_SETS,
    FrozenProtocol,
    eval_frozen_argv,
    evaluate,
    flat_scores,
)
from .methods import (
    ALL_TERMS,
    BACKBONES,
    BASELINES,
    MAE_REASON,
    METHODS,
    REPO,
    Backbone,
    Method,
    display,
    short_schedule_patch,
    width_patch,
)
from .reuse import reuse_finished_run
from .run_config import at_size, build_config, dump_config, eval_config
from .seeds import group_rows, mean_std, seed_summary
from .tables import markers, mean_std_cell, row, rule, value_cells, write_section

__all__ = [
    'MIN_ITERS', 'PROFILES', 'Budget', 'Profile', 'plan_epochs', 'warmup_cosine',
    'child_command', 'child_env', 'run_child', 'run_cost', 'train_one',
    'backbone_tensors', 'export_backbone_prefix', 'export_cmid', 'export_for_finetune',
    'export_run_backbone', 'is_run_backbone',
    'DENSE_SETS', 'SCENE_SETS', 'FrozenProtocol', 'eval_frozen_argv', 'evaluate',
    'flat_scores', 'ALL_TERMS', 'BACKBONES', 'BASELINES', 'MAE_REASON', 'METHODS', 'REPO',
    'Backbone', 'Method', 'display', 'short_schedule_patch', 'width_patch', 'at_size',
    'build_config', 'dump_config', 'eval_config', 'reuse_finished_run', 'group_rows',
    'mean_std', 'seed_summary',
    'markers', 'mean_std_cell', 'row', 'rule', 'value_cells', 'write_section',
]
