"""Host syncs of a CMID training step: the finite check of the losses is the only one
(issue 21: on a GPU every other ``.item()`` / ``bool(tensor)`` stalls the host)."""
from __future__ import annotations

import pytest
import torch
from mmengine.config import Config
from mmengine.logging import MessageHub
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS

from cmid_mm.utils.host_sync import HostSyncRecorder
from tests.helpers import REPO, make_cmid_batch, tiny_cmid_cfg

FINITE_CHECK = '(_all_finite)'
CONFIGS = {
    'resnet18': ('cmid_resnet18_1xb32-adan-20e_s2-tiles-128.py', 'rgb'),
    'vit-cls': ('cmid_vit-tiny-p16-cls_1xb32-adan-20e_s2-tiles-128.py', 'rgb'),
    # the batched photometric ops on the device, 13 bands (ResNet-50 at 64 px)
    'r50-13band-device-views': ('cmid_resnet50_4xb64-adan-200e_s2-13band.py', 'msi'),
}


def test_recorder_sees_value_reads_and_value_shaped_ops():
    x = torch.arange(6.)
    with HostSyncRecorder() as rec:
        x.sum().item()
        bool(x.sum() > 0)
        float(x[0])
        x[x > 2]
        x.nonzero()
        torch.where(x > 1)
        y = x * 2 + x.cpu()  # on the CPU already: no copy
        torch.where(x > 1, x, y)  # three arguments: element-wise, no sync
    ops = [e.op for e in rec.events]
    assert ops == ['item', '__bool__', '__float__', '__getitem__', 'nonzero', 'where']
    assert all('test_host_syncs.py' in e.where for e in rec.events)


@pytest.mark.parametrize('name', list(CONFIGS))
def test_a_cmid_step_syncs_only_for_the_finite_check(name, pretrain_tiles):
    config, sub = CONFIGS[name]
    path = REPO / 'configs/cmid' / config
    init_default_scope('mmpretrain')
    MessageHub.get_current_instance().update_info('max_iters', 100)
    torch.manual_seed(0)
    model = MODELS.build(tiny_cmid_cfg(config=path))
    model.init_weights()
    augments = model.data_preprocessor.view_batch_augments
    if augments is not None:  # the GPU form of the batched ops, forced on the CPU
        for view in augments:
            view.sync_free = True
    assert (augments is not None) == (sub == 'msi')
    optim_wrapper = build_optim_wrapper(model, Config.fromfile(str(path)).optim_wrapper)
    suffix = '*.tif' if sub == 'msi' else '*.png'
    files = sorted((pretrain_tiles.parent / sub).glob(suffix))[:4]
    for step in range(3):
        batch = make_cmid_batch(files, crop_size=64, seed=step, config=path)
        with HostSyncRecorder() as rec:
            model.train_step(batch, optim_wrapper)
        if step == 0:  # the EMA reads its update count once (and copies the student)
            continue
        assert rec.count == 1 and FINITE_CHECK in rec.events[0].where, rec.sites()
