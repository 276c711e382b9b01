"""open-cd 1.x configs, in open-cd's own layout and scope, run with cmid_mm instead of open-cd.

The configs under ``tests/data/opencd_configs/`` are open-cd's (``configs/_base_``,
``common``, ``bit``, ``fcsn``). The only change a user makes is adding
``custom_imports=dict(imports=['cmid_mm'])``; for a CPU-sized run the tests then
give the overrides one would pass with ``--cfg-options`` (data root, batch
size, iterations, test resize, no ImageNet download).
"""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DATASETS, MODELS, DefaultScope
from mmengine.runner import Runner
from PIL import Image

from cmid_mm.changedet import (
    BITHead,
    CDLocalVisualizer,
    DIEncoderDecoder,
    FC_Siam_diff,
    SiamEncoderDecoder,
    SNUNet_ECAM,
    opencd_installed,
)

if opencd_installed():  # pragma: no cover - the real open-cd owns the 'opencd' scope
    pytest.skip('the real open-cd is installed: its own classes are used', allow_module_level=True)

OPENCD_CONFIGS = Path(__file__).resolve().parents[1] / 'data' / 'opencd_configs'


def _load(rel: str, **cfg_options) -> Config:
    cfg = Config.fromfile(str(OPENCD_CONFIGS / rel))
    cfg.custom_imports = dict(imports=['cmid_mm'], allow_failed_imports=False)  # the one edit
    cfg.merge_from_dict(cfg_options)
    return cfg


def _cpu_run_options(work_dir: Path, data_root: Path) -> dict:
    """What `tools/train.py CFG --cfg-options ...` would get for a tiny CPU run."""
    opts = {'work_dir': str(work_dir), 'train_cfg.max_iters': 2, 'train_cfg.val_interval': 100,
            'default_hooks.logger.interval': 1, 'default_hooks.checkpoint.interval': 100,
            'randomness': dict(seed=0), 'log_level': 'WARNING',
            'env_cfg.dist_cfg.backend': 'gloo'}
    for split in ('train', 'val', 'test'):
        key = f'{split}_dataloader'
        opts.update({f'{key}.dataset.data_root': str(data_root), f'{key}.num_workers': 0,
                     f'{key}.persistent_workers': False})
        if split != 'train':  # the 1024x1024 test resize, shrunk to the fixture's size
            opts[f'{key}.dataset.pipeline.1.scale'] = (64, 64)
    opts['train_dataloader.batch_size'] = 2
    return opts


@pytest.mark.parametrize('rel, detector, backbone, head', [
    ('bit/bit_r18_256x256_40k_levircd.py', SiamEncoderDecoder, None, BITHead),
    ('fcsn/fc_siam_diff_256x256_40k_levircd.py', DIEncoderDecoder, FC_Siam_diff, None),
    ('snunet/snunet_c16_256x256_40k_levircd.py', DIEncoderDecoder, SNUNet_ECAM, None),
], ids=['bit_r18', 'fc_siam_diff', 'snunet_c16'])
def test_opencd_config_trains_and_validates(rel, detector, backbone, head, levir_root, tmp_path):
    cfg = _load(rel, **_cpu_run_options(tmp_path / 'work', levir_root))
    assert cfg.default_scope == 'opencd'
    if cfg.model.get('pretrained'):
        cfg.model.pretrained = None  # open-mmlab://resnet18_v1c: no download in tests
    # the open-cd pipeline is what runs (rotation, photometric distortion, 1024 resize)
    assert [t.type for t in cfg.train_dataloader.dataset.pipeline][2] == 'MultiImgRandomRotate'
    runner = Runner.from_cfg(cfg)
    assert DefaultScope.get_current_instance().scope_name == 'opencd'
    assert type(runner.model) is detector
    if backbone is not None:
        assert type(runner.model.backbone) is backbone
    if head is not None:
        assert type(runner.model.decode_head) is head
    assert isinstance(runner.visualizer, CDLocalVisualizer)
    runner.train()
    losses = runner.message_hub.get_scalar('train/loss').data[0]
    assert len(losses) == 2 and all(np.isfinite(losses))
    metrics = runner.val_loop.run()
    for key in ('mIoU', 'mFscore', 'mPrecision', 'mRecall'):
        assert 0.0 <= metrics[key] <= 100.0, (key, metrics)


def _copy_pair(levir_root: Path, split: str, name: str, dirs: tuple[Path, Path, Path],
               img_ext: str, mask_ext: str) -> None:
    """One fixture pair into another dataset's folders and file formats."""
    for src, dst, ext in zip(('A', 'B', 'label'), dirs, (img_ext, img_ext, mask_ext)):
        dst.mkdir(parents=True, exist_ok=True)
        img = Image.open(levir_root / split / src / name)
        target = dst / (Path(name).stem + ext)
        if ext == '.png':
            shutil.copy(levir_root / split / src / name, target)
        elif ext == '.jpg':
            img.save(target, quality=100)
        else:
            img.save(target)


def _layout(dataset: str, root: Path, levir_root: Path) -> dict[str, int]:
    """Build ``dataset``'s released folder layout from the fixture; pairs per split."""
    counts = {}
    for split in ('train', 'val', 'test'):
        names = sorted(p.name for p in (levir_root / split / 'A').glob('*.png'))
        counts[split] = len(names)
        for name in names:
            if dataset == 'svcd':
                dirs, exts = [root / split / d for d in ('A', 'B', 'OUT')], ('.jpg', '.jpg')
            elif dataset == 's2looking':
                dirs, exts = [root / split / d for d in ('Image1', 'Image2', 'label')], \
                    ('.png', '.png')
            elif dataset == 'whu_cd':
                dirs, exts = [root / d for d in ('A', 'B', 'label')], ('.png', '.png')
            else:  # dsifn: jpg images, png masks, tif test masks
                dirs = [root / split / d for d in ('t1', 't2', 'mask')]
                exts = ('.jpg', '.tif' if split == 'test' else '.png')
            _copy_pair(levir_root, split, name, dirs, *exts)
        if dataset == 'whu_cd':
            (root / 'list').mkdir(exist_ok=True)
            (root / 'list' / f'{split}.txt').write_text('\n'.join(names) + '\n')
    return counts


@pytest.mark.parametrize('dataset', ['levir_cd', 'svcd', 's2looking', 'whu_cd', 'dsifn'])
def test_opencd_dataset_bases_load_their_layout(dataset, levir_root, tmp_path):
    root = levir_root if dataset == 'levir_cd' else tmp_path / dataset
    counts = ({s: len(list((levir_root / s / 'A').glob('*.png'))) for s in
               ('train', 'val', 'test')} if dataset == 'levir_cd'
              else _layout(dataset, root, levir_root))
    cfg = _load(f'_base_/datasets/{dataset}.py')
    with DefaultScope.overwrite_default_scope('opencd'):
        for split in ('train', 'val', 'test'):
            ds_cfg = cfg[f'{split}_dataloader'].dataset
            ds_cfg.data_root = str(root)
            ds = DATASETS.build(ds_cfg)
            assert type(ds).__name__ == cfg.dataset_type
            assert len(ds) == counts[split], (split, len(ds))
            sample = ds[0]
            inputs, gt = sample['inputs'], sample['data_samples'].gt_sem_seg.data
            assert inputs.shape[0] == 6 and inputs.dtype == torch.uint8
            # 0/255 masks become 0/1 (JPEG masks binarised at 128)
            assert set(torch.unique(gt).tolist()) <= {0, 1}
            assert gt.sum() > 0


# docs/changedet.md, "Using the same checkpoint in open-cd": the override, verbatim
DOC_OVERRIDE = '''
model = dict(
    pretrained=None,  # drop 'open-mmlab://resnet18_v1c'
    backbone=dict(
        _delete_=True,
        type='mmseg.ResNet', depth=50, num_stages=3, out_indices=(2, ),
        strides=(1, 2, 2), dilations=(1, 1, 1), style='pytorch',
        norm_cfg=dict(type='SyncBN', requires_grad=True),
        init_cfg=dict(type='Pretrained', checkpoint='cmid_r50_mmseg.pth',
                      prefix='backbone.')),
    decode_head=dict(in_channels=1024))
'''


def test_documented_open_cd_override_loads_a_cmid_resnet50(tmp_path):
    from mmpretrain.models import ResNet as PretrainResNet

    doc = (Path(__file__).resolve().parents[2] / 'docs' / 'changedet.md').read_text()
    assert DOC_OVERRIDE.strip() in doc  # the test proves what the docs show
    # an exported CMID ResNet-50 backbone (stages 1-3: what the override builds)
    torch.manual_seed(0)
    student = PretrainResNet(depth=50, num_stages=3, out_indices=(2, ), strides=(1, 2, 2),
                             dilations=(1, 1, 1))
    state = {f'backbone.{k}': (v + torch.rand(v.shape)) if v.is_floating_point() else v
             for k, v in student.state_dict().items()}  # not the fresh init's values
    state['backbone.mask_token'] = torch.zeros(1, 64, 1, 1)
    torch.save(dict(state_dict=state), tmp_path / 'cmid_r50_mmseg.pth')
    base = OPENCD_CONFIGS
    leaf = tmp_path / 'bit_cmid-r50_256x256_40k_levircd.py'
    leaf.write_text(f"_base_ = ['{base}/_base_/models/bit_r18.py', "
                    f"'{base}/common/standard_256x256_40k_levircd.py']\n" +
                    DOC_OVERRIDE.replace("'cmid_r50_mmseg.pth'",
                                         repr(str(tmp_path / 'cmid_r50_mmseg.pth'))))
    cfg = Config.fromfile(str(leaf))
    with DefaultScope.overwrite_default_scope('opencd'):
        model = MODELS.build(cfg.model)
    assert type(model) is SiamEncoderDecoder and type(model.decode_head) is BITHead
    model.init_weights()
    own = model.backbone.state_dict()
    file_keys = {k[len('backbone.'):] for k in state}
    assert set(own) - file_keys == set()  # zero missing backbone keys
    assert file_keys - set(own) == {'mask_token'}
    for key, value in own.items():
        assert torch.equal(value, state[f'backbone.{key}']), key
