"""tools/train.py, tools/dist_train.sh, --resume and kill-and-resume on CPU."""
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import REPO, TINY_CFG

from cmid_mm.utils import safe_load_checkpoint

HERE = Path(__file__).parent


def _train_cmd(work_dir: Path, data_root: Path, *extra: str, epochs: int = 3, n: int = 8,
               launcher: list[str] | None = None) -> list[str]:
    opts = [f'train_dataloader.dataset.data_root={data_root}',
            f'train_dataloader.dataset.indices={n}', 'train_dataloader.batch_size=4',
            'train_dataloader.num_workers=1', 'train_dataloader.persistent_workers=False',
            f'train_cfg.max_epochs={epochs}', 'default_hooks.checkpoint.interval=1',
            'default_hooks.checkpoint.max_keep_ckpts=5', 'default_hooks.logger.interval=1',
            'randomness.deterministic=True', 'randomness.seed=0', *extra]
    launcher = launcher or [sys.executable, str(REPO / 'tools/train.py')]
    return [*launcher, str(TINY_CFG), '--work-dir', str(work_dir), '--cfg-options', *opts]


def _env() -> dict:
    return {**os.environ, 'PYTHONPATH': f'{HERE}:{REPO}', 'OMP_NUM_THREADS': '1',
            'PYTHON': sys.executable}


def _losses(work_dir: Path) -> dict[int, float]:
    out = {}
    for f in sorted(work_dir.glob('*/vis_data/scalars.json')):
        for line in f.read_text().splitlines():
            r = json.loads(line)
            if 'loss' in r:
                out[r['iter']] = r['loss']
    return out


@pytest.fixture(scope='module')
def uninterrupted(tmp_path_factory, pretrain_tiles):
    wd = tmp_path_factory.mktemp('full')
    subprocess.run(_train_cmd(wd, pretrain_tiles), check=True, env=_env(), cwd=REPO,
                   capture_output=True)
    return wd


def test_train_writes_checkpoints_with_backbone_and_three_losses(uninterrupted):
    ckpt = safe_load_checkpoint(uninterrupted / 'epoch_3.pth')
    sd = ckpt['state_dict']
    assert 'backbone.mask_token' in sd and 'backbone.conv1.weight' in sd
    assert 'teacher.module.backbone.conv1.weight' in sd and 'local_loss.center' in sd
    assert ckpt['meta']['iter'] == 6 and ckpt['meta']['epoch'] == 3
    records = [json.loads(x) for f in uninterrupted.glob('*/vis_data/scalars.json')
               for x in f.read_text().splitlines()]
    logged = [r for r in records if 'loss' in r]
    assert len(logged) == 6
    for r in logged:
        assert {'loss_rec', 'loss_global', 'loss_local'} <= set(r)
        assert r['loss'] == pytest.approx(r['loss_rec'] + r['loss_global'] + r['loss_local'],
                                          rel=1e-3)


def test_sigkill_then_resume_matches_uninterrupted_run(tmp_path, pretrain_tiles, uninterrupted):
    wd = tmp_path / 'killed'
    kill_cfg = tmp_path / 'kill_after_epoch2.py'
    kill_cfg.write_text(
        f"_base_ = '{TINY_CFG}'\n"
        "custom_imports = dict(imports=['cmid_mm', 'testing_hooks'], allow_failed_imports=False)\n"
        "custom_hooks = [dict(type='LocalTeacherTempHook'), dict(type='FiniteCheckpointHook'), "
        "dict(type='KillAfterEpochHook', epoch=2)]\n")
    cmd = _train_cmd(wd, pretrain_tiles)
    cmd[cmd.index(str(TINY_CFG))] = str(kill_cfg)
    proc = subprocess.run(cmd, env=_env(), cwd=REPO, capture_output=True)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()[-2000:]
    assert (wd / 'epoch_2.pth').exists() and not (wd / 'epoch_3.pth').exists()
    subprocess.run([*_train_cmd(wd, pretrain_tiles), '--resume'], check=True, env=_env(),
                   cwd=REPO, capture_output=True)
    a = safe_load_checkpoint(uninterrupted / 'epoch_3.pth')
    b = safe_load_checkpoint(wd / 'epoch_3.pth')
    assert a['meta']['iter'] == b['meta']['iter'] == 6
    assert a['state_dict'].keys() == b['state_dict'].keys()
    for k in ('queue', 'queue_ptr', 'local_loss.center', 'teacher.steps'):
        assert torch.equal(a['state_dict'][k], b['state_dict'][k]), k
    for k, v in a['state_dict'].items():
        assert torch.allclose(v.float(), b['state_dict'][k].float(), atol=1e-6), k
    sa, sb = a['optimizer']['state'], b['optimizer']['state']
    assert sa.keys() == sb.keys()
    for i in sa:
        for name, v in sa[i].items():
            assert torch.allclose(torch.as_tensor(v).float(), torch.as_tensor(sb[i][name]).float(),
                                  atol=1e-6), (i, name)
    la, lb = _losses(uninterrupted), _losses(wd)
    assert la.keys() == lb.keys() == set(range(1, 7))
    for it in la:
        assert la[it] == pytest.approx(lb[it], abs=1e-5), it


def test_dist_train_sh_one_process_on_cpu(tmp_path, pretrain_tiles):
    wd = tmp_path / 'dist1'
    cmd = _train_cmd(wd, pretrain_tiles, epochs=1, n=4,
                     launcher=['bash', str(REPO / 'tools/dist_train.sh')])
    cmd.insert(3, '1')  # dist_train.sh CONFIG GPUS ...
    env = {**_env(), 'PORT': '29531'}
    proc = subprocess.run(cmd, env=env, cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (wd / 'epoch_1.pth').exists()
    assert 'Distributed launcher: pytorch' in (next(wd.glob('*/*.log')).read_text())


def test_dist_train_sh_two_processes_end_with_identical_ranks(tmp_path, pretrain_tiles):
    cfg = tmp_path / 'dump_ranks.py'
    cfg.write_text(
        f"_base_ = '{TINY_CFG}'\n"
        "custom_imports = dict(imports=['cmid_mm', 'testing_hooks'], allow_failed_imports=False)\n"
        "custom_hooks = [dict(type='LocalTeacherTempHook'), dict(type='DumpRankStateHook')]\n")
    wd = tmp_path / 'dist2'
    cmd = _train_cmd(wd, pretrain_tiles, 'train_dataloader.batch_size=2',
                     'train_dataloader.num_workers=0', epochs=1, n=8,
                     launcher=['bash', str(REPO / 'tools/dist_train.sh')])
    cmd[cmd.index(str(TINY_CFG))] = str(cfg)
    cmd.insert(3, '2')
    proc = subprocess.run(cmd, env={**_env(), 'PORT': '29532'}, cwd=REPO, capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    s0 = torch.load(wd / 'rank0_state.pth', weights_only=True)
    s1 = torch.load(wd / 'rank1_state.pth', weights_only=True)
    # 2 iterations x 2 ranks x 2 views x batch 2 keys went into the queue
    assert int(s0['queue_ptr']) == int(s1['queue_ptr']) == 16
    for k in s0:
        # BN running statistics are per rank (mmengine's DDP default broadcast_buffers=False)
        if 'running_' in k or 'num_batches_tracked' in k:
            continue
        assert torch.allclose(s0[k].float(), s1[k].float(), atol=1e-6), k


LEARN_CFG = """
_base_ = '{base}'
crop_size = 64
# a 16-key queue is full after one step and the teacher temperature is
# constant, so the loss is not pushed up by a filling queue or a sharpening
# teacher and what is left is learning
model = dict(queue_len=16, num_matches=3,
             local_loss=dict(warmup_teacher_temp=0.07, teacher_temp=0.07))
train_pipeline = [
    dict(type='LoadRSImage'),
    dict(type='Resize', scale=(crop_size, crop_size), interpolation='bicubic'),
    dict(type='CMIDMultiView', view_pipelines=[{{{{_base_.view_a}}}}, {{{{_base_.view_b}}}}],
         crop_size=crop_size, crop_ratio_range=(0.3, 1.0), flip_prob=0.5,
         mask_generator=dict(type='SimMIMMaskGenerator', input_size=crop_size,
                             mask_patch_size=32, model_patch_size=4, mask_ratio=0.6)),
    dict(type='PackInputs', algorithm_keys=['grid', 'mask'], meta_keys=['img_path']),
]
train_dataloader = dict(batch_size=8, num_workers=1, persistent_workers=False,
                        dataset=dict(pipeline=train_pipeline, indices=48))
"""


def test_loss_decreases_over_48_iterations_on_real_tiles(tmp_path, pretrain_tiles):
    cfg = tmp_path / 'learn.py'
    cfg.write_text(LEARN_CFG.format(base=TINY_CFG))
    wd = tmp_path / 'learn'
    subprocess.run(
        [sys.executable, str(REPO / 'tools/train.py'), str(cfg), '--work-dir', str(wd),
         '--cfg-options', f'train_dataloader.dataset.data_root={pretrain_tiles}',
         'train_cfg.max_epochs=8', 'default_hooks.logger.interval=1',
         'param_scheduler.0.end=1', 'param_scheduler.1.begin=1', 'param_scheduler.1.T_max=7',
         'param_scheduler.1.end=8', 'randomness.deterministic=True'],
        check=True, env=_env(), cwd=REPO, capture_output=True)
    records = [json.loads(x) for f in wd.glob('*/vis_data/scalars.json')
               for x in f.read_text().splitlines()]
    rec = [r for r in records if 'loss' in r]
    assert len(rec) == 48

    def mean(key, lo, hi):
        return sum(r[key] for r in rec[lo:hi]) / (hi - lo)
    # after warm-up (iterations 10-20) vs the end of training
    assert mean('loss', 38, 48) < mean('loss', 10, 20)
    assert mean('loss_rec', 38, 48) < mean('loss_rec', 0, 10)
    assert mean('loss_local', 38, 48) < mean('loss_local', 10, 20)
