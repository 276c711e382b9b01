"""FeatureFusionNeck: the four open-cd policies, out_indices and clear errors."""
import pytest
import torch
from mmseg.registry import MODELS


def _pyramids():
    gen = torch.Generator().manual_seed(0)
    x1 = [torch.randn(2, c, s, s, generator=gen) for c, s in ((4, 8), (8, 4))]
    x2 = [torch.randn(2, c, s, s, generator=gen) for c, s in ((4, 8), (8, 4))]
    return x1, x2


@pytest.mark.parametrize('policy,expected', [
    ('concat', lambda a, b: torch.cat([a, b], 1)),
    ('sum', lambda a, b: a + b),
    ('diff', lambda a, b: b - a),
    ('abs_diff', lambda a, b: (a - b).abs()),
])
def test_policies(policy, expected):
    x1, x2 = _pyramids()
    neck = MODELS.build(dict(type='FeatureFusionNeck', policy=policy, out_indices=(0, 1)))
    out = neck(x1, x2)
    assert len(out) == 2
    for level in range(2):
        torch.testing.assert_close(out[level], expected(x1[level], x2[level]))
    channels = [o.shape[1] for o in out]
    assert channels == ([8, 16] if policy == 'concat' else [4, 8])


def test_out_indices_select_levels():
    x1, x2 = _pyramids()
    out = MODELS.build(dict(type='FeatureFusionNeck', policy='sum', out_indices=(1, )))(x1, x2)
    assert len(out) == 1 and out[0].shape == (2, 8, 4, 4)


def test_errors():
    with pytest.raises(ValueError, match="unknown policy 'Lp_distance'"):
        MODELS.build(dict(type='FeatureFusionNeck', policy='Lp_distance'))
    x1, x2 = _pyramids()
    neck = MODELS.build(dict(type='FeatureFusionNeck', policy='concat', out_indices=(0, 1)))
    with pytest.raises(ValueError, match='2 levels for image A but 1'):
        neck(x1, x2[:1])
    with pytest.raises(IndexError, match='out of range'):
        MODELS.build(dict(type='FeatureFusionNeck', policy='concat'))(x1, x2)
