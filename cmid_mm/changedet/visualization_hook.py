"""Write ``image A | image B | ground truth | prediction`` PNGs during validation / testing."""
from __future__ import annotations

import os.path as osp
import warnings
from collections.abc import Sequence

import mmcv
import mmengine.fileio as fileio
import numpy as np
from mmengine.hooks import Hook
from mmengine.utils import mkdir_or_exist
from mmseg.registry import HOOKS
from mmseg.structures import SegDataSample

GAP = 4  # white pixels between the panels


def to_uint8_rgb(img: np.ndarray) -> np.ndarray:
    """(H, W[, C]) image of any dtype -> (H, W, 3) uint8 for display.

    uint8 is kept as is; other dtypes get a per-band 2nd-98th percentile
    stretch; one band is repeated three times; more than three keep the first three.
    """
    if img.ndim == 2:
        img = img[..., None]
    if img.dtype != np.uint8:
        x = img.astype(np.float32)
        lo, hi = np.percentile(x, [2, 98], axis=(0, 1))
        img = (np.clip((x - lo) / np.maximum(hi - lo, 1e-6), 0, 1) * 255).astype(np.uint8)
    if img.shape[2] == 1:
        img = np.repeat(img, 3, axis=2)
    return np.ascontiguousarray(img[..., :3])


def mask_to_rgb(mask: np.ndarray | None, shape: tuple[int, int], changed_index: int = 1,
                ignore_index: int = 255) -> np.ndarray:
    """(H, W) labels -> (H, W, 3) uint8: changed white, unchanged black, ignored grey.

    ``mask=None`` (no ground truth) gives a grey panel of ``shape``.
    """
    if mask is None:
        return np.full((*shape, 3), 128, np.uint8)
    out = np.zeros((*mask.shape, 3), np.uint8)
    out[mask == changed_index] = 255
    out[mask == ignore_index] = 128
    return out


def render_change_panel(img_a: np.ndarray, img_b: np.ndarray, gt: np.ndarray | None,
                        pred: np.ndarray, changed_index: int = 1,
                        ignore_index: int = 255) -> np.ndarray:
    """Side by side ``A | B | GT | prediction`` as one (H, 4W + 3*GAP, 3) RGB uint8 image.

    Images and ground truth are resized (bilinear / nearest) to the
    prediction's (H, W) when they differ.
    """
    h, w = pred.shape[:2]
    panels = []
    for img in (img_a, img_b):
        img = to_uint8_rgb(img)
        if img.shape[:2] != (h, w):
            img = mmcv.imresize(img, (w, h), interpolation='bilinear')
        panels.append(img)
    if gt is not None and gt.shape[:2] != (h, w):
        gt = mmcv.imresize(gt.astype(np.uint8), (w, h), interpolation='nearest')
    panels.append(mask_to_rgb(gt, (h, w), changed_index, ignore_index))
    panels.append(mask_to_rgb(pred, (h, w), changed_index, ignore_index))
    gap = np.full((h, GAP, 3), 255, np.uint8)
    row = [panels[0]]
    for panel in panels[1:]:
        row += [gap, panel]
    return np.concatenate(row, axis=1)


@HOOKS.register_module()
class CDVisualizationHook(Hook):
    """Save ``A | B | GT | prediction`` PNGs of validation / test predictions.

    Every ``interval``-th batch of the val/test loop, each sample's two source
    images (``img_path``) are read again, and a PNG named after image A is
    written to ``out_dir`` (test) or ``out_dir/iter_<n>`` (validation during
    training, ``n`` = training iteration). ``out_dir=None`` means
    ``<work_dir>/<timestamp>/cd_vis``. Nothing is drawn unless ``draw=True``
    (what ``tools/test.py --show-dir DIR`` switches on, with ``out_dir=DIR``).

    Args:
        draw: enable the hook.
        interval: draw every ``interval``-th batch.
        out_dir: folder of the PNGs (absolute, or relative to the current
            directory); None for the run's log folder.
        changed_index: label of the changed class (drawn white).
        ignore_index: label drawn grey in the ground truth.
        backend_args: mmengine file backend arguments to read the images.
        show, wait_time, img_shape, draw_on_from_to_img: accepted so that
            open-cd ``CDVisualizationHook`` configs build; ``show`` opens a
            window per sample (mmcv ``imshow``), the others are unused.
        show_dir: alias of ``out_dir`` (the name ``tools/test.py --show-dir`` sets).
        enable: alias of ``draw`` (mmpretrain's name); overrides ``draw`` when given.
    """

    priority = 'NORMAL'

    def __init__(self,
                 draw: bool = False,
                 interval: int = 50,
                 out_dir: str | None = None,
                 changed_index: int = 1,
                 ignore_index: int = 255,
                 backend_args: dict | None = None,
                 show: bool = False,
                 wait_time: float = 0.,
                 img_shape: tuple | None = None,
                 draw_on_from_to_img: bool = False,
                 show_dir: str | None = None,
                 enable: bool | None = None) -> None:
        if interval < 1:
            raise ValueError(f'CDVisualizationHook: interval must be >= 1, got {interval}')
        if out_dir is not None and show_dir is not None and out_dir != show_dir:
            raise ValueError(f'CDVisualizationHook: out_dir={out_dir!r} and its alias '
                             f'show_dir={show_dir!r} disagree; set one of them')
        self.draw = draw if enable is None else enable
        self.interval = interval
        self.out_dir = out_dir if out_dir is not None else show_dir
        self.changed_index = changed_index
        self.ignore_index = ignore_index
        self.backend_args = backend_args.copy() if backend_args else None
        self.show = show
        self.wait_time = wait_time
        if draw_on_from_to_img:
            warnings.warn('CDVisualizationHook: draw_on_from_to_img (semantic change '
                          'detection in open-cd) is not supported and is ignored', stacklevel=2)

    def _read(self, path: str) -> np.ndarray:
        img_bytes = fileio.get(path, backend_args=self.backend_args)
        return mmcv.imfrombytes(img_bytes, flag='color', channel_order='rgb')  # (H, W, 3) uint8

    def render(self, sample: SegDataSample) -> np.ndarray:
        """One sample -> (H, 4W + 3*GAP, 3) RGB panel (see :func:`render_change_panel`)."""
        paths = sample.img_path
        if isinstance(paths, str) or len(paths) != 2:
            raise ValueError(f'CDVisualizationHook: img_path must list the two images of a '
                             f'pair, got {paths!r}')
        pred = sample.pred_sem_seg.data.squeeze(0).cpu().numpy()
        gt = (sample.gt_sem_seg.data.squeeze(0).cpu().numpy()
              if 'gt_sem_seg' in sample else None)
        return render_change_panel(self._read(paths[0]), self._read(paths[1]), gt, pred,
                                   self.changed_index, self.ignore_index)

    def _after_iter(self,
                    runner,
                    batch_idx: int,
                    data_batch: dict | None = None,
                    outputs: Sequence[SegDataSample] | None = None,
                    mode: str = 'val') -> None:
        if not self.draw or mode == 'train' or not outputs:
            return
        if not self.every_n_inner_iters(batch_idx, self.interval):
            return
        root = self.out_dir if self.out_dir is not None else osp.join(runner.log_dir, 'cd_vis')
        folder = root if mode == 'test' else osp.join(root, f'iter_{runner.iter}')
        mkdir_or_exist(folder)
        for sample in outputs:
            panel = self.render(sample)
            name = osp.splitext(osp.basename(sample.img_path[0]))[0]
            mmcv.imwrite(mmcv.rgb2bgr(panel), osp.join(folder, f'{name}.png'))
            if self.show:
                mmcv.imshow(mmcv.rgb2bgr(panel), win_name=name, wait_time=self.wait_time)
