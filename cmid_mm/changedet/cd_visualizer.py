"""open-cd's visualizer and vis backend (``CDLocalVisualizer``, ``CDLocalVisBackend``) on mmseg.

open-cd's ``default_runtime.py`` declares
``visualizer=dict(type='CDLocalVisualizer', vis_backends=[dict(type='CDLocalVisBackend')],
name='visualizer', alpha=1.0)``. Our ``CDVisualizationHook`` writes its PNGs
itself, so these two classes only have to build and to draw sensibly when
called: the change map over image A (or the stacked pair), and the two dates
stacked under it when given.
"""
from __future__ import annotations

from collections.abc import Sequence

import mmcv
import numpy as np
from mmengine.dist import master_only
from mmengine.visualization import LocalVisBackend
from mmseg.registry import VISBACKENDS, VISUALIZERS
from mmseg.structures import SegDataSample
from mmseg.visualization import SegLocalVisualizer

from .cd_datasets import CD_METAINFO


def _stack(image: np.ndarray, image_from: np.ndarray | None,
           image_to: np.ndarray | None) -> np.ndarray:
    """``image`` on top of ``[image_from | image_to]`` (resized to its width) when given."""
    if image_from is None or image_to is None:
        return image
    row = np.concatenate([image_from, image_to], axis=1)
    h = int(round(row.shape[0] * image.shape[1] / row.shape[1]))
    row = mmcv.imresize(row, (image.shape[1], max(h, 1)))
    return np.concatenate([image, row], axis=0)


@VISBACKENDS.register_module()
class CDLocalVisBackend(LocalVisBackend):
    """mmengine ``LocalVisBackend`` that also takes the two dates (open-cd signature).

    ``add_image(name, image, image_from=None, image_to=None, step=0)`` writes
    one RGB PNG ``<save_dir>/vis_image/<name>_<step>.png``: ``image`` with
    ``[image_from | image_to]`` below it when both are given.
    """

    @master_only
    def add_image(self, name: str, image: np.ndarray, *args, **kwargs) -> None:
        """Save the (stacked) RGB uint8 image.

        Called as mmengine's ``(name, image, step)`` or open-cd's
        ``(name, image, image_from, image_to, step)`` (also as keywords).
        """
        if len(args) not in (0, 1, 2, 3):
            raise TypeError(f'CDLocalVisBackend.add_image: too many arguments {len(args)}')
        if len(args) == 1:
            kwargs.setdefault('step', args[0])
        elif args:
            kwargs.setdefault('image_from', args[0])
            kwargs.setdefault('image_to', args[1])
            if len(args) == 3:
                kwargs.setdefault('step', args[2])
        stacked = _stack(image, kwargs.pop('image_from', None), kwargs.pop('image_to', None))
        super().add_image(name, stacked, kwargs.pop('step', 0), **kwargs)


@VISUALIZERS.register_module()
class CDLocalVisualizer(SegLocalVisualizer):
    """mmseg ``SegLocalVisualizer`` accepting open-cd's ``add_datasample`` signature.

    The change map (ground truth | prediction, mmseg's drawing with ``alpha``)
    is drawn over ``image``; ``image_from_to`` (the two dates, RGB) is stacked
    under it. Semantic change maps (``gt_sem_seg_from``...) are not drawn.
    Without ``classes`` / ``dataset_name`` the classes are the binary change
    classes (mmseg's visualizer would default to Cityscapes); runners replace
    them with the dataset's ``metainfo``.
    """

    def __init__(self, name: str = 'visualizer', classes: list | None = None,
                 palette: list | None = None, dataset_name: str | None = None,
                 **kwargs) -> None:
        super().__init__(name=name, **kwargs)
        if classes is None and dataset_name is None:
            classes, palette = list(CD_METAINFO['classes']), CD_METAINFO['palette']
        # by keyword: mmseg 1.2.2's __init__ passes (palette, classes) swapped
        self.set_dataset_meta(classes=classes, palette=palette, dataset_name=dataset_name)

    @master_only
    def add_datasample(self, name: str, image: np.ndarray,
                       image_from_to: Sequence[np.ndarray] = (),
                       data_sample: SegDataSample | None = None, draw_gt: bool = True,
                       draw_pred: bool = True, show: bool = False, wait_time: float = 0,
                       out_file: str | None = None, step: int = 0,
                       with_labels: bool = False) -> None:
        """Draw and save / show; see the class docstring."""
        if len(image_from_to) not in (0, 2):
            raise ValueError(f'CDLocalVisualizer: image_from_to must hold the two dates, got '
                             f'{len(image_from_to)} images')
        drawn = image
        classes, palette = self.dataset_meta['classes'], self.dataset_meta['palette']
        if data_sample is not None:
            panels = []
            for flag, key in ((draw_gt, 'gt_sem_seg'), (draw_pred, 'pred_sem_seg')):
                if flag and key in data_sample:
                    panels.append(self._draw_sem_seg(image.copy(), getattr(data_sample, key),
                                                     classes, palette, with_labels))
            if panels:
                drawn = np.concatenate(panels, axis=1)
        if len(image_from_to) == 2:
            drawn = _stack(drawn, *image_from_to)
        if show:
            self.show(drawn, win_name=name, wait_time=wait_time)
        if out_file is not None:
            mmcv.imwrite(mmcv.rgb2bgr(drawn), out_file)
        else:
            self.add_image(name, drawn, step)
