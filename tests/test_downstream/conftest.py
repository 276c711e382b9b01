"""Shared fixtures of the downstream tests: a checkpoint written by a short, real
CMID run and its backbone exports."""
from pathlib import Path

import pytest
import torch

from .downstream_helpers import ROOT, export

TINY_CMID_CFG = ROOT / 'configs' / 'cmid' / 'cmid_resnet18_1xb32-adan-20e_s2-tiles-128.py'


@pytest.fixture(scope='session')
def real_cmid_r18(tmp_path_factory, pretrain_tiles) -> Path:
    """epoch_1.pth of the repository's CPU-sized CMID config (ResNet-18 student,
    128 px) trained for 2 iterations (4 real Sentinel-2/Landsat tiles, batch 2)
    by mmengine's Runner - a checkpoint as users get it from tools/train.py."""
    from mmengine.config import Config
    from mmengine.runner import Runner
    work_dir = tmp_path_factory.mktemp('cmid_run')
    cfg = Config.fromfile(TINY_CMID_CFG)
    cfg.work_dir = str(work_dir)
    cfg.train_dataloader.dataset.update(data_root=str(pretrain_tiles), indices=4)
    cfg.train_dataloader.update(batch_size=2, num_workers=0, persistent_workers=False)
    cfg.train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=1)
    cfg.default_hooks.checkpoint.interval = 1
    cfg.default_hooks.logger.interval = 1
    cfg.env_cfg.dist_cfg = dict(backend='gloo')
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        Runner.from_cfg(cfg).train()
    finally:
        torch.set_num_threads(threads)
    ckpt = work_dir / 'epoch_1.pth'
    assert ckpt.is_file()
    return ckpt


@pytest.fixture(scope='session')
def cmid_r18(tmp_path_factory, real_cmid_r18):
    """The student backbone of ``real_cmid_r18`` and its exports per target."""
    folder = tmp_path_factory.mktemp('cmid_r18')
    exports = {t: folder / f'r18_{t}.pth' for t in ('mmpretrain', 'mmseg', 'mmdet')}
    for target, path in exports.items():
        export(real_cmid_r18, path, target)
    from cmid_mm.utils import safe_load_checkpoint
    state = safe_load_checkpoint(real_cmid_r18)['state_dict']
    student = {k[len('backbone.'):]: v for k, v in state.items() if k.startswith('backbone.')}
    return student, exports
