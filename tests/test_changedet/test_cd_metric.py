"""CDMetric: changed-class precision / recall / F1 / IoU from known confusion counts."""
import numpy as np
import pytest
import torch
from mmseg.registry import METRICS
from PIL import Image

META = dict(classes=('unchanged', 'changed'))


def _sample(pred, gt, path=('a/x.png', 'b/x.png')):
    return dict(pred_sem_seg=dict(data=pred[None]), gt_sem_seg=dict(data=gt[None]),
                img_path=list(path))


def _metric(**kwargs):
    metric = METRICS.build(dict(type='CDMetric', **kwargs))
    metric.dataset_meta = META
    return metric


def test_known_counts():
    # image 1: 10 changed pixels, 8 predicted, 6 of them right
    gt1 = torch.zeros(10, 10, dtype=torch.long)
    gt1.view(-1)[:10] = 1
    pred1 = torch.zeros(10, 10, dtype=torch.long)
    pred1.view(-1)[4:12] = 1  # TP = 6 (idx 4..9), FP = 2 (10, 11), FN = 4 (0..3)
    # image 2: nothing changed, nothing predicted -> adds 100 true negatives
    gt2 = torch.zeros(10, 10, dtype=torch.long)
    metric = _metric()
    metric.process({}, [_sample(pred1, gt1), _sample(gt2.clone(), gt2)])
    res = metric.evaluate(2)
    assert res['precision_changed'] == pytest.approx(6 / 8)
    assert res['recall_changed'] == pytest.approx(6 / 10)
    assert res['F1_changed'] == pytest.approx(2 * 0.75 * 0.6 / 1.35)
    assert res['IoU_changed'] == pytest.approx(6 / 12)
    assert res['OA'] == pytest.approx(194 / 200)
    iou_unchanged = 188 / 194  # TN=188, union = TN + FP + FN
    assert res['mIoU'] == pytest.approx((iou_unchanged + 0.5) / 2)
    assert all(0 <= v <= 1 for v in res.values())


def test_ignore_index_and_empty_denominators():
    gt = torch.full((4, 4), 255, dtype=torch.long)
    gt[0, 0] = 0
    pred = torch.ones(4, 4, dtype=torch.long)
    pred[0, 0] = 0  # the one labelled pixel is right; ignored pixels do not count
    metric = _metric()
    metric.process({}, [_sample(pred, gt)])
    res = metric.evaluate(1)
    assert res['OA'] == 1.0
    # no changed pixel in GT or prediction: P, R, F1, IoU of 'changed' are 0 by convention
    assert res['precision_changed'] == res['recall_changed'] == 0.0
    assert res['F1_changed'] == res['IoU_changed'] == 0.0


def test_writes_predictions_named_after_image_a(tmp_path):
    metric = _metric(output_dir=str(tmp_path), format_only=True)
    pred = torch.zeros(4, 4, dtype=torch.long)
    pred[1:3, 1:3] = 1
    metric.process({}, [dict(pred_sem_seg=dict(data=pred[None]),
                             img_path=['A/pair_7.png', 'B/pair_7.png'])])
    saved = np.array(Image.open(tmp_path / 'pair_7.png'))
    assert saved.sum() == 4 and saved.dtype == np.uint8
