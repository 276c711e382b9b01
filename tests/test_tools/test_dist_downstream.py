"""A downstream config (UC Merced linear-probe recipe, unfrozen) under 2-process gloo DDP."""
import subprocess
import sys

import torch

from tests.helpers import REPO

BASE = 'configs/benchmarks/classification/linear_r50-cmid_1xb64-sgd-coslr-90e_ucmerced-224x224.py'
CFG = """
_base_ = '{repo}/{base}'
custom_imports = dict(imports=['cmid_mm', 'testing_hooks'], allow_failed_imports=False)
custom_hooks = [dict(type='DumpStateAtTrainStartHook'), dict(type='DumpRankStateHook')]
model = dict(backbone=dict(depth=18, frozen_stages=-1, norm_eval=False, init_cfg=None),
             head=dict(in_channels=512, num_classes=3))
data_preprocessor = dict(num_classes=3)
train_pipeline = [dict(type='LoadImageFromFile'),
                  dict(type='RandomResizedCrop', scale=64, backend='pillow'),
                  dict(type='RandomFlip', prob=0.5, direction='horizontal'),
                  dict(type='PackInputs')]
test_pipeline = [dict(type='LoadImageFromFile'), dict(type='Resize', scale=(64, 64)),
                 dict(type='PackInputs')]
root = '{repo}/tests/data/downstream/cls'
train_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False,
                        dataset=dict(data_root=root, pipeline=train_pipeline))
val_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False,
                      dataset=dict(data_root=root, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='Accuracy', topk=(1, ))
test_evaluator = val_evaluator
train_cfg = dict(max_epochs=2, val_interval=2)
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=2, save_best=None))
"""


def test_classification_config_two_processes(tmp_path):
    cfg = tmp_path / 'cls_ddp.py'
    cfg.write_text(CFG.format(repo=REPO, base=BASE))
    wd = tmp_path / 'work'
    env = {'PYTHONPATH': f'{REPO / "tests/test_tools"}:{REPO}', 'PYTHON': sys.executable,
           'PORT': '29541', 'OMP_NUM_THREADS': '1', 'PATH': '/usr/bin:/bin'}
    proc = subprocess.run(['bash', str(REPO / 'tools/dist_train.sh'), str(cfg), '2',
                           '--work-dir', str(wd)], env=env, cwd=REPO, capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    s0 = torch.load(wd / 'rank0_state.pth', weights_only=True)
    s1 = torch.load(wd / 'rank1_state.pth', weights_only=True)
    assert s0.keys() == s1.keys()
    for k in s0:
        if 'running_' in k or 'num_batches_tracked' in k:
            continue
        assert torch.allclose(s0[k].float(), s1[k].float(), atol=1e-6), k
    # ... and they are equal because both trained in step, not because nothing trained
    start = torch.load(wd / 'rank0_start_state.pth', weights_only=True)['state_dict']
    for k in ('backbone.conv1.weight', 'head.fc.weight'):
        assert not torch.allclose(start[k], s0[k]), k
    log = next(wd.glob('*/*.log')).read_text()
    assert 'Epoch(val) [2]' in log and 'accuracy/top1' in log
