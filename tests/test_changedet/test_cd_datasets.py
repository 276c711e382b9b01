"""LEVIR_CD_Dataset on the LEVIR-layout fixture; SVCD_Dataset (CDD) on an A/B/OUT copy of it."""
from __future__ import annotations

import shutil

import numpy as np
import pytest
from mmseg.registry import DATASETS
from PIL import Image

PIPELINE = [dict(type='MultiImgLoadImageFromFile'), dict(type='MultiImgLoadAnnotations'),
            dict(type='MultiImgPackSegInputs')]


def _levir(root, split='train', **kwargs):
    return DATASETS.build(dict(
        type='LEVIR_CD_Dataset', data_root=str(root),
        data_prefix=dict(img_path_from=f'{split}/A', img_path_to=f'{split}/B',
                         seg_map_path=f'{split}/label'),
        pipeline=PIPELINE, **kwargs))


def test_levir_lists_pairs(levir_root):
    ds = _levir(levir_root)
    assert len(ds) == 4
    assert ds.metainfo['classes'] == ('unchanged', 'changed')
    info = ds.get_data_info(0)
    assert info['img_path'] == [str(levir_root / 'train' / 'A' / 'train_1.png'),
                                str(levir_root / 'train' / 'B' / 'train_1.png')]
    assert info['seg_map_path'] == str(levir_root / 'train' / 'label' / 'train_1.png')
    assert info['format_seg_map'] == 'to_binary'
    assert len(_levir(levir_root, 'val')) == len(_levir(levir_root, 'test')) == 2


def test_levir_item_is_packed_pair(levir_root, read_pair):
    item = _levir(levir_root, 'test')[1]
    img_a, img_b, label = read_pair('test', 'test_2.png')
    assert tuple(item['inputs'].shape) == (6, 64, 64)
    np.testing.assert_array_equal(item['inputs'][:3].permute(1, 2, 0).numpy(),
                                  img_a[..., ::-1])
    np.testing.assert_array_equal(item['data_samples'].gt_sem_seg.data[0].numpy(),
                                  (label >= 128).astype(np.int64))


def test_levir_ann_file_selects_pairs(levir_root, tmp_path):
    ann = tmp_path / 'split.txt'
    ann.write_text('train_3\ntrain_1\n')
    ds = _levir(levir_root, ann_file=str(ann))
    names = [ds.get_data_info(i)['img_path'][0].split('/')[-1] for i in range(len(ds))]
    assert names == ['train_3.png', 'train_1.png']


def test_cdd_layout_with_jpeg_masks(levir_root, tmp_path, read_pair):
    """SVCD_Dataset reads A/B/OUT JPEGs; lossy 0/255 masks are binarised at 128."""
    for split in ('train', 'val'):
        for sub_src, sub_dst in (('A', 'A'), ('B', 'B'), ('label', 'OUT')):
            (tmp_path / split / sub_dst).mkdir(parents=True)
            for png in sorted((levir_root / split / sub_src).glob('*.png')):
                Image.open(png).save(tmp_path / split / sub_dst / (png.stem + '.jpg'),
                                     quality=90)
    ds = DATASETS.build(dict(
        type='SVCD_Dataset', data_root=str(tmp_path),
        data_prefix=dict(img_path_from='val/A', img_path_to='val/B', seg_map_path='val/OUT'),
        pipeline=PIPELINE))
    assert len(ds) == 2 and ds[0]['inputs'].shape == (6, 64, 64)
    label = read_pair('val', 'val_1.png')[2] >= 128
    gt = ds[0]['data_samples'].gt_sem_seg.data[0].numpy().astype(bool)
    assert set(np.unique(gt)) == {False, True}
    assert (gt == label).mean() > 0.99  # JPEG ringing only at a few edge pixels


def test_mismatched_folders_are_reported(levir_root, tmp_path):
    shutil.copytree(levir_root / 'train', tmp_path / 'train')
    (tmp_path / 'train' / 'B' / 'train_2.png').unlink()
    with pytest.raises(ValueError, match=r"only in A: \['train_2'\]"):
        _levir(tmp_path)


def test_missing_mask_and_prefix_are_reported(levir_root, tmp_path):
    shutil.copytree(levir_root / 'train', tmp_path / 'train')
    (tmp_path / 'train' / 'label' / 'train_4.png').unlink()
    with pytest.raises(FileNotFoundError, match='train_4.png'):
        _levir(tmp_path)
    with pytest.raises(ValueError, match='img_path_to'):
        DATASETS.build(dict(type='LEVIR_CD_Dataset', data_root=str(levir_root),
                            data_prefix=dict(img_path_from='train/A')))
