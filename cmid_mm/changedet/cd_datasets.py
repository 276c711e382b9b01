"""Bi-temporal change-detection folders: LEVIR-CD, CDD (SVCD), S2Looking, WHU-CD, DSIFN."""
from __future__ import annotations

import os.path as osp

import mmengine
import mmengine.fileio as fileio
from mmseg.datasets import BaseSegDataset
from mmseg.registry import DATASETS

CD_METAINFO = dict(classes=('unchanged', 'changed'), palette=[[0, 0, 0], [255, 255, 255]])


class BiTemporalCDDataset(BaseSegDataset):
    """Pairs ``img_path_from/NAME`` + ``img_path_to/NAME`` with mask ``seg_map_path/NAME``.

    mmseg's :class:`BaseSegDataset` (metainfo, label maps, palettes, prefixes,
    serialisation) with open-cd's data_prefix keys. Each data info holds
    ``img_path`` = [path of image A, path of image B], ``seg_map_path``,
    ``format_seg_map``, ``label_map``, ``reduce_zero_label`` and
    ``seg_fields``. Pairs are listed from ``ann_file`` (one name per line,
    without suffix) when given, else from the files of ``img_path_from``
    ending in ``img_suffix`` (recursively), which must match those of
    ``img_path_to`` one to one. Not registered itself: use a subclass.

    Args:
        img_suffix: suffix of the image files.
        seg_map_suffix: suffix of the mask files.
        format_seg_map: ``'to_binary'`` maps mask values >= 128 to 1 (changed)
            when loading (``MultiImgLoadAnnotations``); None keeps values.
        data_prefix: ``dict(img_path_from=..., img_path_to=..., seg_map_path=...)``
            relative to ``data_root``; ``seg_map_path`` may be omitted (no labels).
        **kwargs: the rest of mmseg ``BaseSegDataset`` (``data_root``,
            ``pipeline``, ``ann_file``, ``test_mode``, ``metainfo``...).
    """

    METAINFO = CD_METAINFO

    def __init__(self,
                 img_suffix: str = '.png',
                 seg_map_suffix: str = '.png',
                 format_seg_map: str | None = 'to_binary',
                 data_prefix: dict | None = None,
                 **kwargs) -> None:
        if format_seg_map not in (None, 'to_binary'):
            raise ValueError(f"{type(self).__name__}: format_seg_map must be None or "
                             f"'to_binary', got {format_seg_map!r}")
        data_prefix = dict(data_prefix or {})
        missing = [k for k in ('img_path_from', 'img_path_to') if not data_prefix.get(k)]
        if missing:
            raise ValueError(
                f'{type(self).__name__}: data_prefix needs {missing}, e.g. '
                "dict(img_path_from='train/A', img_path_to='train/B', "
                f"seg_map_path='train/label'); got {data_prefix}")
        self.format_seg_map = format_seg_map
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix,
                         data_prefix=data_prefix, **kwargs)

    def _info(self, name: str, dir_from: str, dir_to: str, ann_dir: str | None) -> dict:
        info = dict(img_path=[osp.join(dir_from, name + self.img_suffix),
                              osp.join(dir_to, name + self.img_suffix)])
        if ann_dir is not None:
            info['seg_map_path'] = osp.join(ann_dir, name + self.seg_map_suffix)
        info.update(label_map=self.label_map, format_seg_map=self.format_seg_map,
                    reduce_zero_label=self.reduce_zero_label, seg_fields=[])
        return info

    def _list_names(self, folder: str) -> set[str]:
        if not fileio.isdir(folder, backend_args=self.backend_args):
            raise FileNotFoundError(f'{type(self).__name__}: image folder {folder} does not '
                                    'exist (check data_root and data_prefix)')
        files = fileio.list_dir_or_file(folder, list_dir=False, suffix=self.img_suffix,
                                        recursive=True, backend_args=self.backend_args)
        return {f[:-len(self.img_suffix)] for f in files}

    def load_data_list(self) -> list[dict]:
        """One dict per image pair, sorted by file name."""
        dir_from = self.data_prefix['img_path_from']
        dir_to = self.data_prefix['img_path_to']
        ann_dir = self.data_prefix.get('seg_map_path') or None
        if self.ann_file and osp.isfile(self.ann_file):
            names = [line.strip() for line in
                     mmengine.list_from_file(self.ann_file, backend_args=self.backend_args)
                     if line.strip()]
        else:
            names_from, names_to = self._list_names(dir_from), self._list_names(dir_to)
            if names_from != names_to:
                only_a = sorted(names_from - names_to)[:5]
                only_b = sorted(names_to - names_from)[:5]
                raise ValueError(
                    f'{type(self).__name__}: {dir_from} and {dir_to} do not hold the same '
                    f'{self.img_suffix} files (only in A: {only_a}, only in B: {only_b})')
            names = sorted(names_from)
            if not names:
                raise ValueError(f'{type(self).__name__}: no {self.img_suffix} file in '
                                 f'{dir_from}')
        data_list = [self._info(n, dir_from, dir_to, ann_dir) for n in names]
        if ann_dir is not None:
            for info in data_list:
                if not fileio.exists(info['seg_map_path'], backend_args=self.backend_args):
                    raise FileNotFoundError(
                        f"{type(self).__name__}: no change mask {info['seg_map_path']} for "
                        f"the pair {info['img_path']}")
        return data_list


@DATASETS.register_module()
class LEVIR_CD_Dataset(BiTemporalCDDataset):  # noqa: N801 - open-cd's public name
    """LEVIR-CD (``{train,val,test}/{A,B,label}/*.png``; masks 0/255).

    Chen & Shi, Remote Sensing 2020: 637 pairs of 1024x1024 Google Earth
    images (0.5 m), building changes. Classes ``('unchanged', 'changed')``.
    """

    def __init__(self, img_suffix: str = '.png', seg_map_suffix: str = '.png',
                 format_seg_map: str | None = 'to_binary', **kwargs) -> None:
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix,
                         format_seg_map=format_seg_map, **kwargs)


@DATASETS.register_module()
class SVCD_Dataset(BiTemporalCDDataset):  # noqa: N801 - open-cd's public name
    """CDD / SVCD (``{train,val,test}/{A,B,OUT}/*.jpg``; masks 0/255 JPEG).

    Lebedev et al. 2018 ("season-varying change detection"): 16 000 real
    season-varying pairs of 256x256 crops (10 000 / 3 000 / 3 000).
    Classes ``('unchanged', 'changed')``.
    """

    def __init__(self, img_suffix: str = '.jpg', seg_map_suffix: str = '.jpg',
                 format_seg_map: str | None = 'to_binary', **kwargs) -> None:
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix,
                         format_seg_map=format_seg_map, **kwargs)


@DATASETS.register_module()
class S2Looking_Dataset(BiTemporalCDDataset):  # noqa: N801 - open-cd's public name
    """S2Looking (``{train,val,test}/{Image1,Image2,label}/*.png``; masks 0/255).

    Shen et al. 2021: 5000 side-looking satellite pairs of 1024x1024 px
    (0.5-0.8 m), building changes. Classes ``('unchanged', 'changed')``.
    """

    def __init__(self, img_suffix: str = '.png', seg_map_suffix: str = '.png',
                 format_seg_map: str | None = 'to_binary', **kwargs) -> None:
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix,
                         format_seg_map=format_seg_map, **kwargs)


@DATASETS.register_module()
class WHU_CD_Dataset(BiTemporalCDDataset):  # noqa: N801 - open-cd's public name
    """WHU building CD cut into tiles (``{A,B,label}/NAME`` listed by ``list/{split}.txt``).

    Ji et al. 2019. The list files hold full file names, so both suffixes
    default to ``''`` (open-cd's convention). Classes ``('unchanged', 'changed')``.
    """

    def __init__(self, img_suffix: str = '', seg_map_suffix: str = '',
                 format_seg_map: str | None = 'to_binary', **kwargs) -> None:
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix,
                         format_seg_map=format_seg_map, **kwargs)


@DATASETS.register_module()
class DSIFN_Dataset(BiTemporalCDDataset):  # noqa: N801 - open-cd's public name
    """DSIFN-CD (``{train,val,test}/{t1,t2}/*.jpg`` and ``.../mask/*``; masks 0/255).

    Zhang et al. 2020, 512x512 Google Earth pairs of six Chinese cities. open-cd's
    base config sets ``seg_map_suffix`` per split (``.png``, test ``.tif``).
    Masks are binarised at 128 (``format_seg_map='to_binary'``).
    """

    def __init__(self, img_suffix: str = '.jpg', seg_map_suffix: str = '.png',
                 format_seg_map: str | None = 'to_binary', **kwargs) -> None:
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix,
                         format_seg_map=format_seg_map, **kwargs)
