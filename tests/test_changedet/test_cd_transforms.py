"""MultiImg* transforms: one geometry for both dates and the mask, real fixture pairs."""
from __future__ import annotations

import copy

import mmcv
import numpy as np
import pytest
from mmengine.dataset import Compose
from mmseg.registry import TRANSFORMS

NAME = 'train_2.png'


def _probe(read_pair) -> dict:
    """Results whose B is a copy of A and whose mask is A's red channel.

    After any geometric transform that treats the three identically:
    img[0] == img[1] and img[0][..., 2] (red, BGR order) == gt_seg_map.
    """
    img_a = read_pair('train', NAME)[0][..., ::-1].copy()  # RGB -> BGR like mmcv
    return dict(img=[img_a, img_a.copy()], gt_seg_map=img_a[..., 2].copy(),
                seg_fields=['gt_seg_map'], img_path=['a.png', 'b.png'],
                img_shape=img_a.shape[:2], ori_shape=img_a.shape[:2])


def _assert_same_geometry(out: dict) -> None:
    assert len(out['img']) == 2
    np.testing.assert_array_equal(out['img'][0], out['img'][1])
    np.testing.assert_array_equal(out['img'][0][..., 2], out['gt_seg_map'])
    assert out['img_shape'] == out['img'][0].shape[:2] == out['gt_seg_map'].shape


def test_load_pair_and_binary_mask(levir_root, read_pair):
    info = dict(img_path=[str(levir_root / 'train' / 'A' / NAME),
                          str(levir_root / 'train' / 'B' / NAME)],
                seg_map_path=str(levir_root / 'train' / 'label' / NAME),
                format_seg_map='to_binary', reduce_zero_label=False, label_map=None,
                seg_fields=[])
    out = Compose([dict(type='MultiImgLoadImageFromFile'),
                   dict(type='MultiImgLoadAnnotations')])(info)
    img_a, img_b, label = read_pair('train', NAME)
    np.testing.assert_array_equal(out['img'][0], img_a[..., ::-1])  # BGR, as mmcv loads
    np.testing.assert_array_equal(out['img'][1], img_b[..., ::-1])
    assert out['img_shape'] == out['ori_shape'] == (64, 64)
    np.testing.assert_array_equal(out['gt_seg_map'], (label >= 128).astype(np.uint8))
    assert set(np.unique(out['gt_seg_map'])) == {0, 1}
    assert out['seg_fields'] == ['gt_seg_map']


def test_load_rejects_pairs_of_different_size(tmp_path, levir_root):
    small = tmp_path / 'small.png'
    mmcv.imwrite(np.zeros((32, 32, 3), np.uint8), str(small))
    load = TRANSFORMS.build(dict(type='MultiImgLoadImageFromFile'))
    with pytest.raises(ValueError, match='same size'):
        load(dict(img_path=[str(levir_root / 'train' / 'A' / NAME), str(small)]))


def test_random_crop_same_box(read_pair):
    np.random.seed(0)
    probe = _probe(read_pair)
    src = probe['img'][0].copy()
    out = TRANSFORMS.build(dict(type='MultiImgRandomCrop', crop_size=(40, 24)))(probe)
    _assert_same_geometry(out)
    assert out['img'][0].shape == (40, 24, 3)
    # the crop is a real window of the source, at one offset for all three arrays
    hits = [(y, x) for y in range(64 - 40 + 1) for x in range(64 - 24 + 1)
            if np.array_equal(src[y:y + 40, x:x + 24], out['img'][0])]
    assert len(hits) == 1


@pytest.mark.parametrize('direction', ['horizontal', 'vertical', 'diagonal'])
def test_random_flip_same_direction(read_pair, direction):
    probe = _probe(read_pair)
    src = probe['img'][0].copy()
    out = TRANSFORMS.build(dict(type='MultiImgRandomFlip', prob=1.0,
                                direction=direction))(probe)
    _assert_same_geometry(out)
    assert out['flip'] is True and out['flip_direction'] == direction
    np.testing.assert_array_equal(out['img'][0], mmcv.imflip(src, direction))
    assert not np.array_equal(out['img'][0], src)


def test_random_flip_never_with_prob_zero(read_pair):
    probe = _probe(read_pair)
    src = probe['img'][0].copy()
    out = TRANSFORMS.build(dict(type='MultiImgRandomFlip', prob=0.0))(probe)
    assert out['flip'] is False and out['flip_direction'] is None
    np.testing.assert_array_equal(out['img'][1], src)


def test_rot90_flip_same_turn(read_pair):
    flip = TRANSFORMS.build(dict(type='MultiImgRandomRotFlip', rotate_prob=0.0, flip_prob=1.0))
    seen = set()
    for seed in range(12):
        np.random.seed(seed)
        probe = _probe(read_pair)
        src = probe['img'][0].copy()
        out = flip(probe)
        _assert_same_geometry(out)
        # the result is one of the 4 reflections of the dihedral group
        matches = [(k, ax) for k in range(4) for ax in range(2)
                   if np.array_equal(np.flip(np.rot90(src, k), ax), out['img'][0])]
        assert matches
        seen.add(matches[0])
    assert len(seen) > 1  # the draw varies with the seed


def test_free_rotation_same_angle(read_pair):
    np.random.seed(3)
    probe = _probe(read_pair)
    probe['img'] = [np.maximum(img, 1) for img in probe['img']]  # 0 only in the padding
    probe['gt_seg_map'] = np.ones((64, 64), np.uint8)
    out = TRANSFORMS.build(dict(type='MultiImgRandomRotFlip', rotate_prob=1.0,
                                degree=(30, 40)))(probe)
    np.testing.assert_array_equal(out['img'][0], out['img'][1])
    padded_img = (out['img'][0] == 0).all(-1).mean()
    padded_seg = (out['gt_seg_map'] == 255).mean()
    assert 0.05 < padded_seg < 0.4  # a 30-40 degree turn pads the corners
    assert abs(padded_img - padded_seg) < 0.03  # same angle for image and mask


def test_resize_same_size(read_pair):
    probe = _probe(read_pair)
    out = TRANSFORMS.build(dict(type='MultiImgResize', scale=(96, 48)))(probe)
    np.testing.assert_array_equal(out['img'][0], out['img'][1])
    assert out['img'][0].shape == (48, 96, 3) and out['gt_seg_map'].shape == (48, 96)
    assert out['scale_factor'] == (1.5, 0.75)
    # nearest for the mask: its values are a subset of the source's
    assert set(np.unique(out['gt_seg_map'])) <= set(np.unique(probe['gt_seg_map']))
    keep = TRANSFORMS.build(dict(type='MultiImgResize', scale=(128, 128), keep_ratio=True))
    out = keep(_probe(read_pair))
    assert out['img'][1].shape == (128, 128, 3) and out['keep_ratio'] is True


def test_exchange_time_swaps(read_pair):
    img_a, img_b, _ = read_pair('train', NAME)
    results = dict(img=[img_a, img_b], img_path=['t1.png', 't2.png'],
                   gt_seg_map_from=np.zeros((64, 64), np.uint8),
                   gt_seg_map_to=np.ones((64, 64), np.uint8),
                   seg_fields=['gt_seg_map_from', 'gt_seg_map_to'])
    out = TRANSFORMS.build(dict(type='MultiImgExchangeTime', prob=1.0))(copy.deepcopy(results))
    assert out['img'][0] is not None
    np.testing.assert_array_equal(out['img'][0], img_b)
    np.testing.assert_array_equal(out['img'][1], img_a)
    assert out['img_path'] == ['t2.png', 't1.png']
    assert out['gt_seg_map_from'].all() and not out['gt_seg_map_to'].any()
    kept = TRANSFORMS.build(dict(type='MultiImgExchangeTime', prob=0.0))(copy.deepcopy(results))
    np.testing.assert_array_equal(kept['img'][0], img_a)
    assert kept['img_path'] == ['t1.png', 't2.png']


def test_photometric_distortion_is_per_date(read_pair):
    img_a = read_pair('train', NAME)[0][..., ::-1].copy()
    label = np.zeros((64, 64), np.uint8)
    distort = TRANSFORMS.build(dict(type='MultiImgPhotoMetricDistortion'))
    differ = 0
    for seed in range(5):
        np.random.seed(seed)
        out = distort(dict(img=[img_a.copy(), img_a.copy()], gt_seg_map=label.copy(),
                           seg_fields=['gt_seg_map']))
        assert all(img.shape == img_a.shape and img.dtype == np.uint8 for img in out['img'])
        np.testing.assert_array_equal(out['gt_seg_map'], label)  # geometry untouched
        differ += not np.array_equal(out['img'][0], out['img'][1])
    assert differ >= 4  # independent draws: two equal inputs come out different


def test_pack_stacks_dates_on_channels(read_pair):
    img_a, img_b, label = read_pair('train', NAME)
    out = TRANSFORMS.build(dict(type='MultiImgPackSegInputs'))(
        dict(img=[img_a, img_b], gt_seg_map=(label > 0).astype(np.uint8),
             img_path=['a.png', 'b.png'], ori_shape=(64, 64), img_shape=(64, 64)))
    inputs, sample = out['inputs'], out['data_samples']
    assert tuple(inputs.shape) == (6, 64, 64)
    np.testing.assert_array_equal(inputs[:3].permute(1, 2, 0).numpy(), img_a)
    np.testing.assert_array_equal(inputs[3:].permute(1, 2, 0).numpy(), img_b)
    assert tuple(sample.gt_sem_seg.data.shape) == (1, 64, 64)
    assert int(sample.gt_sem_seg.data.sum()) == int((label > 0).sum())
    assert sample.img_path == ['a.png', 'b.png']


def test_train_pipeline_keeps_the_change_on_the_mask(levir_root):
    """On real pairs: after crop/flips/turns the mask still covers where A and B differ."""
    pipeline = Compose([
        dict(type='MultiImgLoadImageFromFile'),
        dict(type='MultiImgLoadAnnotations'),
        dict(type='MultiImgRandomCrop', crop_size=(48, 48), cat_max_ratio=0.95),
        dict(type='MultiImgRandomFlip', prob=0.5, direction='horizontal'),
        dict(type='MultiImgRandomFlip', prob=0.5, direction='vertical'),
        dict(type='MultiImgRandomRotFlip', rotate_prob=0.0, flip_prob=1.0),
        dict(type='MultiImgExchangeTime', prob=0.5),
        dict(type='MultiImgPackSegInputs'),
    ])
    for seed, name in enumerate(['train_1.png', 'train_2.png', 'train_3.png', 'train_4.png']):
        np.random.seed(seed)
        out = pipeline(dict(
            img_path=[str(levir_root / 'train' / 'A' / name),
                      str(levir_root / 'train' / 'B' / name)],
            seg_map_path=str(levir_root / 'train' / 'label' / name),
            format_seg_map='to_binary', reduce_zero_label=False, label_map=None,
            seg_fields=[]))
        x = out['inputs'].float()
        diff = (x[:3] - x[3:]).abs().mean(0)  # (48, 48)
        changed = out['data_samples'].gt_sem_seg.data[0] == 1
        assert changed.any() and (~changed).any()
        # pasted patches differ by >= 30 grey levels on average; the rest only radiometrically
        assert diff[changed].mean() > 2 * diff[~changed].mean()
