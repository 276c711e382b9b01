"""Test helpers shared by every test folder: the tiny CMID config and its batch maker.

Import as ``from tests.helpers import tiny_cmid_cfg, make_cmid_batch``.
"""
import copy
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TINY_CFG = REPO / 'configs/cmid/cmid_resnet18_1xb32-adan-20e_s2-tiles-128.py'


def tiny_cmid_cfg(crop_size: int = 64, **model_overrides) -> dict:
    """A very small CMID model config (ResNet-18 of the CPU config, 64 px -> 2x2 grid).

    Projector 32-d, a 64-key queue, a 128-way local head, 3 matches; any
    keyword replaces the model key of that name.
    """
    from mmengine.config import Config
    cfg = Config.fromfile(str(TINY_CFG))
    model = copy.deepcopy(cfg.model.to_dict())
    model.update(num_matches=3)
    model['global_head'].update(feat_dim=32, queue_len=64)
    model['local_head'].update(hid_channels=64, bottleneck_channels=32, out_channels=128)
    model['local_loss'].update(out_dim=128)
    model['projector'].update(hid_channels=64, out_channels=32)
    model.update(model_overrides)
    return model


def make_cmid_batch(files, crop_size: int = 64, seed: int = 0) -> dict:
    """Run the real CMID pipeline of the CPU config on real tiles at ``crop_size``.

    Returns:
        dict: ``default_collate`` of the packed samples (``inputs``: two
        (B, 3, crop, crop) uint8 views; ``data_samples`` with mask and grid).
    """
    import numpy as np
    from mmengine.config import Config
    from mmengine.dataset import default_collate
    from mmpretrain.registry import TRANSFORMS
    cfg = Config.fromfile(str(TINY_CFG))
    pipeline = []
    for t in cfg.train_pipeline:
        t = t.to_dict() if hasattr(t, 'to_dict') else dict(t)
        if t['type'] == 'Resize':
            t['scale'] = (crop_size, crop_size)
        if t['type'] == 'CMIDMultiView':
            t['crop_size'] = crop_size
            t['mask_generator']['input_size'] = crop_size
        pipeline.append(TRANSFORMS.build(t))
    np.random.seed(seed)
    samples = []
    for f in files:
        r = dict(img_path=str(f))
        for t in pipeline:
            r = t(r)
        samples.append(r)
    return default_collate(samples)
