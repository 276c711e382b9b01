"""BN recalibration: running statistics become the clean-data statistics, weights stay."""
import shutil

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from cmid_mm.evaluation.bn_protocol import recalibrate_bn, recalibrate_bn_on_tiles


def _batches(seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(n, 3, 5, 5, generator=g) * 3 + 2 for n in (4, 6, 4, 8)]


def test_single_bn_layer_hand_checked():
    bn = nn.BatchNorm2d(3)
    with torch.no_grad():  # stale statistics from 'masked' pretraining, trained affine
        bn.running_mean.fill_(100.)
        bn.running_var.fill_(50.)
        bn.num_batches_tracked.fill_(1000)
        bn.weight.copy_(torch.tensor([0.5, 2., -1.]))
        bn.bias.copy_(torch.tensor([1., 0., 3.]))
    w, b = bn.weight.clone(), bn.bias.clone()
    batches = _batches()
    used = recalibrate_bn(bn, iter(batches), num_batches=3)
    assert used == 3
    # momentum=None: cumulative average of the 3 batch means / unbiased batch variances
    means = torch.stack([x.mean(dim=(0, 2, 3)) for x in batches[:3]])
    vars_ = torch.stack([x.var(dim=(0, 2, 3), unbiased=True) for x in batches[:3]])
    torch.testing.assert_close(bn.running_mean, means.mean(0))
    torch.testing.assert_close(bn.running_var, vars_.mean(0))
    assert bn.num_batches_tracked.item() == 3
    torch.testing.assert_close(bn.weight, w)
    torch.testing.assert_close(bn.bias, b)
    assert bn.momentum == 0.1 and not bn.training


def test_only_bn_in_train_mode_and_no_grad():
    torch.manual_seed(0)
    drop, conv, bn = nn.Dropout(0.5), nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4)
    model = nn.Sequential(drop, conv, bn)
    conv_w = conv.weight.clone()
    batches = _batches(1)
    recalibrate_bn(model, batches, num_batches=len(batches))
    with torch.no_grad():  # dropout must have been off: stats of conv(x) itself
        means = torch.stack([conv(x).mean(dim=(0, 2, 3)) for x in batches])
    torch.testing.assert_close(bn.running_mean, means.mean(0))
    torch.testing.assert_close(conv.weight, conv_w)
    assert conv.weight.grad is None and not model.training and not drop.training


def test_errors():
    with pytest.raises(ValueError, match='no BatchNorm'):
        recalibrate_bn(nn.Conv2d(3, 3, 1), _batches(), 1)
    with pytest.raises(ValueError, match='num_batches'):
        recalibrate_bn(nn.BatchNorm2d(3), _batches(), 0)
    with pytest.raises(ValueError, match='no batch'):
        recalibrate_bn(nn.BatchNorm2d(3), [], 2)


def test_on_real_tiles_first_bn_of_resnet(tmp_path, pretrain_tiles):
    """One batch holding every tile: the stem BN's mean is the mean of conv1 on the
    normalised clean tiles, computed here by hand."""
    from mmpretrain.models import ImageClassifier, SelfSupDataPreprocessor
    files = sorted(pretrain_tiles.glob('s2_*.png'))[:6]
    for f in files:
        shutil.copy(f, tmp_path / f.name)
    torch.manual_seed(0)
    mean, std = [86.18, 91.93, 85.37], [34.65, 34.48, 35.88]
    model = ImageClassifier(backbone=dict(type='ResNet', depth=18, out_indices=(3, )))
    model.data_preprocessor = SelfSupDataPreprocessor(mean=mean, std=std)
    model.init_weights()
    conv1_w = model.backbone.conv1.weight.clone()
    n = recalibrate_bn_on_tiles(model, str(tmp_path), num_batches=5, batch_size=8)
    assert n == 1  # 6 tiles -> one batch
    imgs = torch.from_numpy(np.stack([np.asarray(Image.open(f).convert('RGB')) for f in files]))
    x = (imgs.permute(0, 3, 1, 2).float() - torch.tensor(mean)[:, None, None]) / \
        torch.tensor(std)[:, None, None]
    with torch.no_grad():
        y = model.backbone.conv1(x)
    torch.testing.assert_close(model.backbone.bn1.running_mean, y.mean(dim=(0, 2, 3)),
                               rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(model.backbone.bn1.running_var, y.var(dim=(0, 2, 3)),
                               rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(model.backbone.conv1.weight, conv1_w)
    assert not model.training
