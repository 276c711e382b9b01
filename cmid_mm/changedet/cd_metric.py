"""Changed-class precision, recall, F1 and IoU: the numbers change-detection papers report."""
from __future__ import annotations

import os.path as osp
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np
from mmengine.logging import MMLogger, print_log
from mmseg.evaluation import IoUMetric
from mmseg.registry import METRICS
from PIL import Image
from prettytable import PrettyTable


def _ratio(num: float, den: float) -> float:
    """num / den, 0.0 when den is 0 (sklearn ``zero_division=0``)."""
    return float(num / den) if den > 0 else 0.0


@METRICS.register_module()
class CDMetric(IoUMetric):
    """Pixel metrics of binary change detection, accumulated over the whole set.

    Counts are summed over all pixels of all images (ignoring ``ignore_index``)
    with mmseg's :meth:`IoUMetric.intersect_and_union`; then, for the changed
    class ``c = changed_index``: TP, FP = pred==c & gt!=c, FN = pred!=c & gt==c,

    - ``precision_changed`` = TP / (TP + FP), ``recall_changed`` = TP / (TP + FN),
    - ``F1_changed`` = 2 P R / (P + R), ``IoU_changed`` = TP / (TP + FP + FN),

    and, for reference, ``OA`` (pixel accuracy) and ``mIoU`` / ``mF1`` (mean of
    the two classes). All values are fractions in [0, 1] (mmseg's IoUMetric
    reports percentages); an empty denominator gives 0. The per-class table is
    printed to the log.

    Args:
        changed_index: label of the "changed" class.
        ignore_index: label ignored in evaluation.
        collect_device, prefix: as mmengine ``BaseMetric``.
        output_dir: if set, write each prediction as ``<name of image A>.png``
            (0 / 1 values), as mmseg's ``IoUMetric`` does.
        format_only: only write predictions, compute nothing.
        **kwargs: accepted for open-cd/mmseg config compatibility
            (``iou_metrics``, ``nan_to_num``, ``beta``).
    """

    def __init__(self,
                 changed_index: int = 1,
                 ignore_index: int = 255,
                 collect_device: str = 'cpu',
                 output_dir: str | None = None,
                 format_only: bool = False,
                 prefix: str | None = None,
                 **kwargs) -> None:
        super().__init__(ignore_index=ignore_index, collect_device=collect_device,
                         output_dir=output_dir, format_only=format_only, prefix=prefix,
                         **kwargs)
        self.changed_index = changed_index

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        """Accumulate per-class (intersect, union, pred, label) areas of each sample."""
        num_classes = len(self.dataset_meta['classes'])
        if not 0 <= self.changed_index < num_classes:
            raise ValueError(f'CDMetric: changed_index={self.changed_index} but the dataset '
                             f"has classes {self.dataset_meta['classes']}")
        for sample in data_samples:
            pred = sample['pred_sem_seg']['data'].squeeze()
            if not self.format_only:
                gt = sample['gt_sem_seg']['data'].squeeze().to(pred)
                self.results.append(
                    self.intersect_and_union(pred, gt, num_classes, self.ignore_index))
            if self.output_dir is not None:
                path = sample['img_path']
                first = path[0] if isinstance(path, (list, tuple)) else path
                name = osp.splitext(osp.basename(first))[0]
                Image.fromarray(pred.cpu().numpy().astype(np.uint8)).save(
                    osp.join(self.output_dir, f'{name}.png'))

    def compute_metrics(self, results: list) -> dict[str, float]:
        """Changed-class P / R / F1 / IoU plus OA, mIoU, mF1 (fractions)."""
        logger = MMLogger.get_current_instance()
        if self.format_only:
            logger.info(f'CDMetric: predictions written to {self.output_dir}')
            return OrderedDict()
        inter, union, pred, label = (np.asarray(sum(r[i] for r in results), dtype=np.float64)
                                     for i in range(4))
        total = label.sum()
        per_class = []
        for c in range(len(inter)):
            tp, fp, fn = inter[c], pred[c] - inter[c], label[c] - inter[c]
            p, r = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
            per_class.append(dict(precision=p, recall=r, F1=_ratio(2 * p * r, p + r),
                                  IoU=_ratio(tp, union[c]), TP=tp, FP=fp, FN=fn))
        changed = per_class[self.changed_index]
        metrics = OrderedDict(
            precision_changed=changed['precision'],
            recall_changed=changed['recall'],
            F1_changed=changed['F1'],
            IoU_changed=changed['IoU'],
            OA=_ratio(inter.sum(), total),
            mIoU=float(np.mean([m['IoU'] for m in per_class])),
            mF1=float(np.mean([m['F1'] for m in per_class])),
        )
        table = PrettyTable()
        table.field_names = ['Class', 'Precision', 'Recall', 'F1', 'IoU', 'TP', 'FP', 'FN']
        for name, m in zip(self.dataset_meta['classes'], per_class):
            table.add_row([name] + [f"{m[k]:.4f}" for k in ('precision', 'recall', 'F1', 'IoU')]
                          + [int(m[k]) for k in ('TP', 'FP', 'FN')])
        print_log('change detection results (pixels summed over the set):\n'
                  + table.get_string(), logger=logger)
        print_log('changed class: ' + ', '.join(f'{k}={v:.4f}' for k, v in metrics.items()),
                  logger=logger)
        return metrics
