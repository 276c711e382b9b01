"""CDVisualizationHook / render_change_panel: A | B | GT | prediction PNGs."""
from types import SimpleNamespace

import numpy as np
import torch
from mmengine.structures import PixelData
from mmseg.registry import HOOKS
from mmseg.structures import SegDataSample
from PIL import Image

from cmid_mm.changedet.visualization_hook import GAP, render_change_panel


def _sample(levir_root, name, label):
    sample = SegDataSample(metainfo=dict(img_path=[str(levir_root / 'test' / 'A' / name),
                                                   str(levir_root / 'test' / 'B' / name)]))
    gt = torch.from_numpy((label >= 128).astype(np.int64))[None]
    sample.gt_sem_seg = PixelData(data=gt)
    sample.pred_sem_seg = PixelData(data=1 - gt)  # deliberately the inverse of the truth
    return sample


def test_panel_layout(read_pair):
    img_a, img_b, label = read_pair('test', 'test_1.png')
    gt = (label >= 128).astype(np.int64)
    gt[0, 0] = 255  # ignored pixel -> grey
    panel = render_change_panel(img_a, img_b, gt, 1 - (label >= 128))
    assert panel.shape == (64, 4 * 64 + 3 * GAP, 3) and panel.dtype == np.uint8
    step = 64 + GAP
    np.testing.assert_array_equal(panel[:, :64], img_a)
    np.testing.assert_array_equal(panel[:, step:step + 64], img_b)
    gt_panel = panel[:, 2 * step:2 * step + 64, 0]
    assert gt_panel[0, 0] == 128
    assert ((gt_panel[1:] == 255) == (label[1:] >= 128)).all()
    pred_panel = panel[:, 3 * step:, 0]
    assert ((pred_panel == 255) == (label < 128)).all()
    assert (panel[:, 64:64 + GAP] == 255).all()


def test_panel_without_gt_and_16bit_image():
    img16 = (np.arange(32 * 32 * 3, dtype=np.uint16).reshape(32, 32, 3) * 20)
    panel = render_change_panel(img16, img16, None, np.zeros((16, 16), np.int64))
    assert panel.shape == (16, 4 * 16 + 3 * GAP, 3)  # resized to the prediction
    assert (panel[:, 2 * (16 + GAP):2 * (16 + GAP) + 16] == 128).all()


def test_hook_writes_test_pngs(levir_root, read_pair, tmp_path):
    hook = HOOKS.build(dict(type='CDVisualizationHook', draw=True, interval=1,
                            out_dir=str(tmp_path / 'vis')))
    samples = [_sample(levir_root, n, read_pair('test', n)[2])
               for n in ('test_1.png', 'test_2.png')]
    runner = SimpleNamespace(iter=0, log_dir=str(tmp_path / 'log'))
    hook.after_test_iter(runner, batch_idx=0, data_batch={}, outputs=samples)
    written = sorted(p.name for p in (tmp_path / 'vis').iterdir())
    assert written == ['test_1.png', 'test_2.png']
    png = np.array(Image.open(tmp_path / 'vis' / 'test_2.png'))
    np.testing.assert_array_equal(png, hook.render(samples[1]))
    # validation during training: one folder per training iteration, under log_dir by default
    hook.out_dir = None
    runner.iter = 7
    hook.after_val_iter(runner, batch_idx=0, data_batch={}, outputs=samples[:1])
    assert (tmp_path / 'log' / 'cd_vis' / 'iter_7' / 'test_1.png').is_file()


def test_hook_is_off_by_default(levir_root, read_pair, tmp_path):
    hook = HOOKS.build(dict(type='CDVisualizationHook', out_dir=str(tmp_path / 'vis')))
    sample = _sample(levir_root, 'test_1.png', read_pair('test', 'test_1.png')[2])
    hook.after_test_iter(SimpleNamespace(iter=0, log_dir=str(tmp_path)), 0, {}, [sample])
    assert not (tmp_path / 'vis').exists()


def test_tools_test_show_dir_aliases(tmp_path):
    hook = HOOKS.build(dict(type='CDVisualizationHook', draw=False, enable=True,
                            show_dir=str(tmp_path)))
    assert hook.draw is True and hook.out_dir == str(tmp_path)
