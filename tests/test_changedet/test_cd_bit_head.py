"""BITHead: shapes, open-cd parameter names, symmetry of |x1 - x2|, loss and errors."""
import pytest
import torch
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample


def _head(**kwargs):
    cfg = dict(type='BITHead', in_channels=16, channels=32, embed_dims=64, enc_depth=1,
               dec_depth=2, num_heads=8, token_len=4, pre_upsample=2, upsample_size=4,
               num_classes=2, align_corners=False)
    cfg.update(kwargs)
    head = MODELS.build(cfg)
    head.init_weights()
    return head.eval()


def test_output_shape_and_open_cd_names():
    torch.manual_seed(0)
    head = _head()
    fused = torch.randn(2, 32, 4, 4)  # two dates x 16 channels at stride 16 of a 64 px input
    logits = head([fused])
    assert logits.shape == (2, 2, 4 * 2 * 4, 4 * 2 * 4)  # x pre_upsample x upsample_size
    keys = set(head.state_dict())
    for key in ('conv_att.conv.weight', 'enc_pos_embedding', 'pre_process.1.conv.weight',
                'encoder.0.attn.to_q.weight', 'encoder.0.attn.fc_out.0.weight',
                'encoder.0.ff.0.weight', 'encoder.0.ff.3.weight', 'encoder.0.norm2.weight',
                'decoder.1.norm1_.weight', 'decoder.1.attn.to_v.weight', 'conv_seg.weight'):
        assert key in keys, key
    assert head.enc_pos_embedding.shape == (1, 8, 32)


@pytest.mark.parametrize('use_tokenizer', [True, False])
def test_identical_dates_give_constant_logits(use_tokenizer):
    """Without position embedding both dates stay identical, so |x1 - x2| = 0 everywhere."""
    torch.manual_seed(0)
    head = _head(enc_with_pos=False, use_tokenizer=use_tokenizer)
    feat = torch.randn(1, 16, 4, 4)
    logits = head([torch.cat([feat, feat], dim=1)])
    bias = head.conv_seg.bias.view(1, 2, 1, 1).expand_as(logits)
    torch.testing.assert_close(logits, bias)
    other = head([torch.cat([feat, torch.randn(1, 16, 4, 4)], dim=1)])
    assert (other - bias).abs().max() > 1e-3


def test_loss_backpropagates_to_tokens():
    torch.manual_seed(0)
    head = _head().train()
    sample = SegDataSample()
    sample.gt_sem_seg = PixelData(data=(torch.rand(1, 32, 32) > 0.7).long())
    sample.set_metainfo(dict(img_shape=(32, 32)))
    losses = head.loss([torch.randn(1, 32, 4, 4)], [sample], train_cfg={})
    assert torch.isfinite(losses['loss_ce'])
    losses['loss_ce'].backward()
    assert head.enc_pos_embedding.grad.abs().sum() > 0
    assert head.decoder[1].attn.to_k.weight.grad.abs().sum() > 0


def test_rejects_non_concatenated_input():
    head = _head()
    with pytest.raises(ValueError, match="policy='concat'"):
        head([torch.randn(1, 16, 4, 4)])
