"""SiamEncoderDecoder: shared backbone on both halves of the 6-channel input, mmseg heads."""
import pytest
import torch
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample


def _model_cfg(policy='abs_diff'):
    norm_cfg = dict(type='BN', requires_grad=True)
    in_mult = 2 if policy == 'concat' else 1
    return dict(
        type='SiamEncoderDecoder',
        data_preprocessor=dict(type='DualInputSegDataPreProcessor', mean=[0.] * 6,
                               std=[1.] * 6, size_divisor=32),
        backbone=dict(type='ResNet', depth=18, num_stages=4, out_indices=(0, 1, 2, 3),
                      norm_cfg=norm_cfg),
        neck=dict(type='FeatureFusionNeck', policy=policy),
        decode_head=dict(type='FCNHead', in_channels=512 * in_mult, in_index=3, channels=8,
                         num_convs=1, num_classes=2, norm_cfg=norm_cfg,
                         align_corners=False),
        test_cfg=dict(mode='whole'))


def test_extract_feat_is_fused_shared_backbone():
    torch.manual_seed(0)
    model = MODELS.build(_model_cfg('abs_diff')).eval()
    x = torch.randn(2, 6, 64, 64)
    fused = model.extract_feat(x)
    with torch.no_grad():
        f_a, f_b = model.backbone(x[:, :3]), model.backbone(x[:, 3:])
    assert len(fused) == 4
    for level in range(4):
        torch.testing.assert_close(fused[level], (f_a[level] - f_b[level]).abs())
    # the same image twice -> no change anywhere in the fused features
    same = model.extract_feat(torch.cat([x[:, :3], x[:, :3]], dim=1))
    assert all(float(f.abs().max()) == 0 for f in same)


def test_predict_gives_full_size_masks():
    torch.manual_seed(0)
    model = MODELS.build(_model_cfg('concat')).eval()
    samples = [SegDataSample(metainfo=dict(ori_shape=(64, 64), img_shape=(64, 64),
                                           pad_shape=(64, 64), padding_size=[0, 0, 0, 0]))
               for _ in range(2)]
    with torch.no_grad():
        out = model.predict(torch.randn(2, 6, 64, 64), samples)
    assert out[0].pred_sem_seg.data.shape == (1, 64, 64)
    assert set(out[0].pred_sem_seg.data.unique().tolist()) <= {0, 1}
    assert out[1].seg_logits.data.shape == (2, 64, 64)


def test_errors():
    cfg = _model_cfg()
    cfg.pop('neck')
    with pytest.raises(ValueError, match='needs a `neck`'):
        MODELS.build(cfg)
    model = MODELS.build(_model_cfg())
    with pytest.raises(ValueError, match=r'\(B, 6, H, W\)'):
        model.extract_feat(torch.randn(1, 3, 64, 64))
