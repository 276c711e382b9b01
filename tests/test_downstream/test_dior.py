"""cmid_mm.detection.DIORDataset on the DIOR-layout fixture (tests/data/downstream/dior)."""
from pathlib import Path
from xml.etree import ElementTree as ET

import numpy as np
import pytest

from cmid_mm.detection import DIOR_CLASSES, DIORDataset

DIOR = Path(__file__).resolve().parents[1] / 'data' / 'downstream' / 'dior'
XML_DIR = DIOR / 'Annotations' / 'Horizontal Bounding Boxes'


def _boxes_from_xml(img_id: str) -> np.ndarray:
    root = ET.parse(XML_DIR / f'{img_id}.xml').getroot()
    return np.array([[int(o.find('bndbox').find(t).text) for t in ('xmin', 'ymin', 'xmax', 'ymax')]
                     for o in root.findall('object')])


def test_registered_in_mmdet():
    from mmdet.registry import DATASETS
    assert DATASETS.get('DIORDataset') is DIORDataset
    assert len(DIOR_CLASSES) == 20 and DIOR_CLASSES[11] == 'harbor'


@pytest.mark.parametrize('split,subdir,ids', [
    ('train', 'JPEGImages-trainval', ['train000', 'train001']),
    ('test', 'JPEGImages-test', ['test000']),
])
def test_reads_the_dior_layout(split, subdir, ids):
    ds = DIORDataset(data_root=str(DIOR), ann_file=f'ImageSets/Main/{split}.txt',
                     img_subdir=subdir, test_mode=split == 'test', pipeline=[])
    assert len(ds) == len(ids)
    assert ds.metainfo['classes'] == DIOR_CLASSES
    for i, img_id in enumerate(ids):
        info = ds.get_data_info(i)
        assert info['img_path'] == str(DIOR / subdir / f'{img_id}.jpg')
        assert (info['height'], info['width']) == (128, 128)
        labels = [inst['bbox_label'] for inst in info['instances']]
        assert labels == [DIOR_CLASSES.index('harbor')] * len(labels) and labels
        # VOC convention: 1-based pixel coordinates in the XML, 0-based after parsing
        boxes = np.array([inst['bbox'] for inst in info['instances']])
        np.testing.assert_array_equal(boxes, _boxes_from_xml(img_id) - 1)


def _write_one(tmp_path: Path, name: str) -> Path:
    root = tmp_path / 'DIOR'
    (root / 'ImageSets' / 'Main').mkdir(parents=True)
    (root / 'ImageSets' / 'Main' / 'test.txt').write_text('00001\n')
    xml = root / 'Annotations' / 'Horizontal Bounding Boxes'
    xml.mkdir(parents=True)
    (xml / '00001.xml').write_text(
        '<annotation><size><width>800</width><height>800</height></size>'
        f'<object><name>{name}</name><bndbox><xmin>11</xmin><ymin>21</ymin>'
        '<xmax>31</xmax><ymax>41</ymax></bndbox></object></annotation>')
    return root


def test_class_names_are_case_insensitive(tmp_path):
    """DIOR's XML files write e.g. 'Expressway-Service-area'."""
    root = _write_one(tmp_path, 'Expressway-Service-area')
    ds = DIORDataset(data_root=str(root), ann_file='ImageSets/Main/test.txt',
                     img_subdir='JPEGImages-test', test_mode=True, pipeline=[])
    inst = ds.get_data_info(0)['instances']
    assert inst[0]['bbox_label'] == DIOR_CLASSES.index('expressway-service-area') == 7
    assert inst[0]['bbox'] == [10, 20, 30, 40]


def test_unknown_class_names_the_file(tmp_path):
    root = _write_one(tmp_path, 'helipad')
    with pytest.raises(ValueError, match=r"00001\.xml: object class 'helipad' is not one"):
        DIORDataset(data_root=str(root), ann_file='ImageSets/Main/test.txt',
                    img_subdir='JPEGImages-test', test_mode=True, pipeline=[])
