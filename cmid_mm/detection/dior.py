"""DIOR horizontal-box detection dataset for mmdet (VOC-style XML annotations).

DIOR (Li et al., ISPRS J. 2020) has 23,463 optical images of 800x800 px and
20 object classes. Its release uses the Pascal VOC layout, with the images of
the train/val and test splits in separate folders::

    data/DIOR/
      JPEGImages-trainval/00001.jpg ...
      JPEGImages-test/11726.jpg ...
      Annotations/Horizontal Bounding Boxes/00001.xml ...   (older release: Annotations/)
      ImageSets/Main/{train,val,test}.txt

The XML files spell some class names with capitals
(``Expressway-Service-area``); names are matched case-insensitively against
the lower-case class tuple below, as mmrotate's oriented ``DIORDataset`` does.
"""
from xml.etree import ElementTree as ET

from mmdet.datasets import XMLDataset
from mmdet.registry import DATASETS

DIOR_CLASSES = (
    'airplane', 'airport', 'baseballfield', 'basketballcourt', 'bridge', 'chimney', 'dam',
    'expressway-service-area', 'expressway-toll-station', 'golffield', 'groundtrackfield',
    'harbor', 'overpass', 'ship', 'stadium', 'storagetank', 'tenniscourt', 'trainstation',
    'vehicle', 'windmill')


@DATASETS.register_module()
class DIORDataset(XMLDataset):
    """DIOR with horizontal boxes, read from VOC-style XML files.

    Args:
        img_subdir (str): folder of the images, relative to ``data_root``:
            ``'JPEGImages-trainval'`` for the train/val splits,
            ``'JPEGImages-test'`` for the test split.
        ann_subdir (str): folder of the XML files, relative to ``data_root``.
        **kwargs: the arguments of :class:`mmdet.datasets.XMLDataset`
            (``data_root``, ``ann_file`` = an ``ImageSets/Main/*.txt`` id list, ...).
    """

    METAINFO = {
        'classes': DIOR_CLASSES,
        # one colour per class (mmdet's VOC palette), for visualisation only
        'palette': [(106, 0, 228), (119, 11, 32), (165, 42, 42), (0, 0, 192), (197, 226, 255),
                    (0, 60, 100), (0, 0, 142), (255, 77, 255), (153, 69, 1), (120, 166, 157),
                    (0, 182, 199), (0, 226, 252), (182, 182, 255), (0, 0, 230), (220, 20, 60),
                    (163, 255, 0), (0, 82, 0), (3, 95, 161), (0, 80, 100), (183, 130, 88)],
    }

    def __init__(self,
                 img_subdir: str = 'JPEGImages-trainval',
                 ann_subdir: str = 'Annotations/Horizontal Bounding Boxes',
                 **kwargs) -> None:
        # XMLDataset resolves images and XML files under data_prefix['sub_data_root'],
        # which is joined with data_root only when present: DIOR has no sub-root.
        data_prefix = dict(kwargs.pop('data_prefix', None) or {})
        data_prefix.setdefault('sub_data_root', '')
        super().__init__(img_subdir=img_subdir, ann_subdir=ann_subdir, data_prefix=data_prefix,
                         **kwargs)
        # VOCMetric picks the VOC class names only for 'VOC2007'/'VOC2012'.
        self._metainfo['dataset_type'] = 'DIOR'

    def parse_data_info(self, img_info: dict) -> dict:
        """Parse one image's XML (see XMLDataset); remembers the path for errors."""
        self._xml_path = img_info['xml_path']
        return super().parse_data_info(img_info)

    def _parse_instance_info(self, raw_ann_info: ET.ElementTree,
                             minus_one: bool = True) -> list[dict]:
        """Lower-case the class names, then parse as Pascal VOC.

        Unknown names are an error (a silent skip would hide a wrong
        ``classes`` setting); pass ``metainfo=dict(classes=...)`` to train on
        a subset, names outside that subset are then skipped as in VOC.
        """
        xml_path = getattr(self, '_xml_path', '<xml>')
        for obj in raw_ann_info.findall('object'):
            name = obj.find('name')
            if name is None or name.text is None:
                raise ValueError(f'{xml_path}: an <object> has no <name>')
            name.text = name.text.strip().lower()
            if name.text not in DIOR_CLASSES:
                raise ValueError(f'{xml_path}: object class {name.text!r} is not one of the '
                                 f'20 DIOR classes {DIOR_CLASSES}')
        return super()._parse_instance_info(raw_ann_info, minus_one=minus_one)
