"""Components for open-cd configs: pair transforms, FC-EF/FC-Siam, DIEncoderDecoder, visualizer."""
from __future__ import annotations

import copy

import mmcv
import numpy as np
import pytest
import torch
from mmengine.structures import PixelData
from mmseg.registry import MODELS, TRANSFORMS, VISBACKENDS, VISUALIZERS
from mmseg.structures import SegDataSample

from cmid_mm.changedet import FC_EF, FC_Siam_conc, FC_Siam_diff, SNUNet_ECAM

NAME = 'train_2.png'


def _probe(read_pair) -> dict:
    """B is a copy of A, the mask is A's red channel: a shared geometry keeps them equal."""
    img_a = read_pair('train', NAME)[0][..., ::-1].copy()  # BGR, (64, 64, 3)
    return dict(img=[img_a, img_a.copy()], gt_seg_map=img_a[..., 2].copy(),
                seg_fields=['gt_seg_map'], img_shape=img_a.shape[:2])


def _assert_same_geometry(out: dict) -> None:
    np.testing.assert_array_equal(out['img'][0], out['img'][1])
    np.testing.assert_array_equal(out['img'][0][..., 2], out['gt_seg_map'])
    assert out['img_shape'] == out['img'][0].shape[:2] == out['gt_seg_map'].shape[:2]


def test_random_rotate_one_angle_for_pair_and_mask(read_pair):
    t = TRANSFORMS.build(dict(type='MultiImgRandomRotate', prob=1.0, degree=(30, 30),
                              pad_val=0, seg_pad_val=0))
    src = _probe(read_pair)
    out = t(copy.deepcopy(src))
    # mask rotated with nearest, image bilinear: compare the image with the direct rotation
    np.testing.assert_array_equal(out['img'][0], out['img'][1])
    np.testing.assert_array_equal(out['img'][0], mmcv.imrotate(src['img'][0], 30))
    np.testing.assert_array_equal(
        out['gt_seg_map'], mmcv.imrotate(src['gt_seg_map'], 30, interpolation='nearest'))
    assert not np.array_equal(out['img'][0], src['img'][0])
    untouched = TRANSFORMS.build(dict(type='MultiImgRandomRotate', prob=0.0, degree=90))
    np.testing.assert_array_equal(untouched(copy.deepcopy(src))['img'][0], src['img'][0])


def test_random_rotate_draws_per_call():
    np.random.seed(1)
    t = TRANSFORMS.build(dict(type='MultiImgRandomRotate', prob=1.0, degree=180))
    angles = set()
    for _ in range(3):
        img = np.zeros((9, 9, 3), np.uint8)
        img[0, 4] = 255
        out = t(dict(img=[img, img.copy()], seg_fields=[]))
        np.testing.assert_array_equal(out['img'][0], out['img'][1])
        angles.add(out['img'][0].tobytes())
    assert len(angles) == 3


def test_random_resize_one_scale_for_pair(read_pair):
    np.random.seed(0)
    t = TRANSFORMS.build(dict(type='MultiImgRandomResize', scale=(64, 64),
                              ratio_range=(0.5, 2.0), keep_ratio=True))
    out = t(_probe(read_pair))
    h, w = out['img'][0].shape[:2]
    assert (h, w) != (64, 64) and h == w
    assert out['img'][1].shape == out['img'][0].shape
    assert out['gt_seg_map'].shape == (h, w)
    assert tuple(out['scale']) == (w, h)
    assert out['scale_factor'] == pytest.approx((w / 64, h / 64))


def test_pad_to_divisor_and_fixed_size(read_pair):
    src = _probe(read_pair)
    src['img'] = [x[:50, :40] for x in src['img']]
    src['gt_seg_map'] = src['gt_seg_map'][:50, :40]
    out = TRANSFORMS.build(dict(type='MultiImgPad', size_divisor=32,
                                pad_val=dict(img=7, seg=255)))(copy.deepcopy(src))
    assert out['img'][0].shape == out['img'][1].shape == (64, 64, 3)
    assert out['pad_shape'] == (64, 64, 3) and out['img_shape'] == (64, 64)
    np.testing.assert_array_equal(out['img'][0][:50, :40], src['img'][0])
    assert (out['img'][1][50:] == 7).all() and (out['img'][0][:, 40:] == 7).all()
    assert out['gt_seg_map'].shape == (64, 64) and (out['gt_seg_map'][50:] == 255).all()
    fixed = TRANSFORMS.build(dict(type='MultiImgPad', size=(80, 60)))(copy.deepcopy(src))
    assert fixed['img'][0].shape == (60, 80, 3)  # size is (w, h)
    assert (fixed['gt_seg_map'][50:] == 255).all() and (fixed['img'][0][50:] == 0).all()
    with pytest.raises(ValueError, match='larger'):
        TRANSFORMS.build(dict(type='MultiImgPad', size=(32, 32)))(copy.deepcopy(src))


def test_normalize_each_date(read_pair):
    a, b, _ = read_pair('train', NAME)
    bgr = [a[..., ::-1].copy(), b[..., ::-1].copy()]
    mean, std = [123.675, 116.28, 103.53], [58.395, 57.12, 57.375]
    out = TRANSFORMS.build(dict(type='MultiImgNormalize', mean=mean, std=std, to_rgb=True))(
        dict(img=[x.copy() for x in bgr]))
    for img, rgb in zip(out['img'], (a, b)):
        assert img.dtype == np.float32
        np.testing.assert_allclose(img, (rgb.astype(np.float32) - mean) / std, rtol=1e-5,
                                   atol=1e-5)
    assert not np.allclose(out['img'][0], out['img'][1])  # each date keeps its own pixels
    with pytest.raises(ValueError, match='channels'):
        TRANSFORMS.build(dict(type='MultiImgNormalize', mean=[0] * 6, std=[1] * 6))(
            dict(img=[x.copy() for x in bgr]))


@pytest.mark.parametrize('cls, in_channels', [(FC_EF, 6), (FC_Siam_conc, 3),
                                              (FC_Siam_diff, 3)])
@pytest.mark.parametrize('size', [32, 36])
def test_fc_nets_full_resolution_output(cls, in_channels, size):
    torch.manual_seed(0)
    net = cls(in_channels=in_channels, base_channel=4).eval()
    x1, x2 = torch.rand(2, 3, size, size), torch.rand(2, 3, size, size)
    (out, ) = net(x1, x2)
    assert out.shape == (2, 4, size, size)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize('cls', [FC_EF, FC_Siam_conc, FC_Siam_diff])
def test_fc_skips_fuse_the_dates_as_named(cls):
    """The decoder's skip inputs are cat(A, B) features / |f(A) - f(B)| / the EF encoder's."""
    torch.manual_seed(0)
    net = cls(in_channels=6 if cls is FC_EF else 3, base_channel=4).eval()
    x1, x2 = torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32)
    seen = []
    hooks = [dec.register_forward_pre_hook(lambda m, args: seen.append(args[0]))
             for dec in net.decoder]
    with torch.no_grad():
        net(x1, x2)
        if cls is FC_EF:
            skips, _ = net._encode(torch.cat([x1, x2], dim=1))
        else:
            (s1, _), (s2, _) = net._encode(x1), net._encode(x2)
            skips = ([torch.cat([a, b], dim=1) for a, b in zip(s1, s2)] if cls is FC_Siam_conc
                     else [torch.abs(a - b) for a, b in zip(s1, s2)])
    for h in hooks:
        h.remove()
    for dec_in, skip in zip(seen, reversed(skips)):  # deepest level first
        torch.testing.assert_close(dec_in[:, -skip.shape[1]:], skip)


def test_fc_ef_checks_its_input_channels():
    with pytest.raises(ValueError, match='in_channels=3'):
        FC_EF(in_channels=3, base_channel=4)(torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32))


def test_snunet_nested_nodes_and_ecam():
    torch.manual_seed(0)
    net = SNUNet_ECAM(in_channels=3, base_channel=16)  # open-cd's c16: ECAM MLPs of width 4
    net.init_weights()
    net.eval()
    # UNet++ grid: node (i, j) for i + j <= 4, j >= 1; input f_i * (j + 1) + f_{i+1}
    assert sorted(net.nodes) == sorted(f'{i}_{j}' for j in range(1, 5) for i in range(5 - j))
    assert net.nodes['0_4'].conv1.in_channels == 16 * 5 + 32
    assert net.nodes['3_1'].conv1.in_channels == 128 * 2 + 256
    x1, x2 = torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32)
    tops = []
    hooks = [net.nodes[f'0_{j}'].register_forward_hook(lambda m, a, out: tops.append(out))
             for j in range(1, 5)]
    with torch.no_grad():
        (out, ) = net(x1, x2)
    for h in hooks:
        h.remove()
    assert out.shape == (2, 64, 32, 32) and torch.isfinite(out).all()
    # ECAM: CA(cat) * (cat + repeat(CA_intra(sum), 4))
    cat = torch.cat(tops, dim=1)
    intra = net.ca_intra(torch.stack(tops).sum(0)).repeat(1, 4, 1, 1)
    torch.testing.assert_close(out, net.ca(cat) * (cat + intra))
    # the dates are not interchangeable (the deepest level comes from date B), but both count
    with torch.no_grad():
        assert not torch.allclose(net(x1, x2)[0], net(x2, x2)[0])
        assert not torch.allclose(net(x1, x2)[0], net(x1, x1)[0])
    with pytest.raises(ValueError, match='divisible by 16'):
        net(torch.rand(1, 3, 24, 24), torch.rand(1, 3, 24, 24))


def test_di_encoder_decoder_feeds_both_dates_to_the_backbone():
    model = MODELS.build(dict(
        type='DIEncoderDecoder',
        data_preprocessor=dict(type='DualInputSegDataPreProcessor', mean=[0.] * 6,
                               std=[1.] * 6, size_divisor=32),
        backbone=dict(type='FC_Siam_diff', in_channels=3, base_channel=4),
        decode_head=dict(type='FCNHead', in_channels=4, channels=4, in_index=-1,
                         num_convs=0, concat_input=False, num_classes=2,
                         loss_decode=dict(type='CrossEntropyLoss', loss_weight=1.0)),
        test_cfg=dict(mode='whole')))
    inputs = torch.rand(2, 6, 32, 32)
    seen = []
    model.backbone.register_forward_hook(lambda m, args, out: seen.append(args))
    feats = model.extract_feat(inputs)
    assert torch.equal(seen[0][0], inputs[:, :3]) and torch.equal(seen[0][1], inputs[:, 3:])
    assert feats[0].shape == (2, 4, 32, 32)
    samples = []
    for _ in range(2):
        s = SegDataSample(metainfo=dict(img_shape=(32, 32), ori_shape=(32, 32),
                                        pad_shape=(32, 32)))
        s.gt_sem_seg = PixelData(data=torch.randint(0, 2, (1, 32, 32)))
        samples.append(s)
    losses = model.loss(inputs, samples)
    assert torch.isfinite(losses['decode.loss_ce'])
    with pytest.raises(ValueError, match='stacked on channels'):
        model.extract_feat(torch.rand(2, 3, 32, 32))


def test_cd_local_visualizer_and_backend(tmp_path, read_pair):
    a, b, label = read_pair('val', 'val_1.png')
    vis = VISUALIZERS.build(dict(type='CDLocalVisualizer', name='cd_vis_test',
                                 vis_backends=[dict(type='CDLocalVisBackend')],
                                 save_dir=str(tmp_path), alpha=1.0))
    sample = SegDataSample()
    sample.gt_sem_seg = PixelData(data=torch.from_numpy((label >= 128).astype(np.int64))[None])
    sample.pred_sem_seg = PixelData(data=torch.zeros(1, 64, 64, dtype=torch.int64))
    out = tmp_path / 'panel.png'
    vis.add_datasample('val_1', a, [a, b], sample, out_file=str(out))
    panel = mmcv.imread(str(out), channel_order='rgb')
    # gt | pred on top (2 x 64 wide), A | B below resized to the same width
    assert panel.shape == (64 + 64, 128, 3)
    # alpha 1: the palette only, changed white, unchanged black
    np.testing.assert_array_equal(panel[:64, :64].min(-1), np.where(label >= 128, 255, 0))
    assert (panel[:64, 64:] == 0).all()  # the prediction says "no change"
    np.testing.assert_array_equal(panel[64:], np.concatenate([a, b], axis=1))
    with pytest.raises(ValueError, match='two dates'):
        vis.add_datasample('x', a, [a], sample, out_file=str(out))
    # backend: mmengine's (name, image, step) and open-cd's (name, image, from, to, step)
    backend = VISBACKENDS.build(dict(type='CDLocalVisBackend', save_dir=str(tmp_path / 'b')))
    backend.add_image('plain', a, 3)
    backend.add_image('pair', a, a, b, 5)
    saved = {p.name: mmcv.imread(str(p)).shape for p in (tmp_path / 'b').rglob('*.png')}
    assert saved == {'plain_3.png': (64, 64, 3), 'pair_5.png': (96, 64, 3)}
