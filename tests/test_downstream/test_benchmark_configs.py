"""The shipped configs under configs/benchmarks/{classification,segmentation,detection,
rotated_detection}: their contract, and that the stock models they build take every
weight of an exported CMID backbone (ResNet-50 and Swin-B, as in the paper).
"""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from tests.helpers import write_cmid_checkpoint

from .downstream_helpers import CONFIGS, FILE_TARGET, FIXTURES, FOLDERS, export, registry_of

ALL = [p for folder in FOLDERS for p in sorted((CONFIGS / folder).glob('*.py'))]
NUM_CLASSES = {'ucmerced': 21, 'aid': 30, 'nwpu-resisc45': 45, 'potsdam': 5, 'vaihingen': 6,
               'dior': 20, 'dota': 15}
DATASET_TYPE = {'ucmerced': 'CustomDataset', 'aid': 'CustomDataset',
                'nwpu-resisc45': 'CustomDataset', 'potsdam': 'PotsdamDataset',
                'vaihingen': 'ISPRSDataset', 'dior': 'DIORDataset', 'dota': 'DOTADataset'}
SWIN_B = dict(embed_dims=128, depths=[2, 2, 18, 2], num_heads=[4, 8, 16, 32], window_size=7)


def _dataset_of(path: Path) -> str:
    return path.stem.split('_')[-1].rsplit('-', 1)[0]


def _num_classes(cfg: Config) -> int:
    model = cfg.model
    if 'head' in model:
        return model.head.num_classes
    if 'decode_head' in model:
        assert model.auxiliary_head.num_classes == model.decode_head.num_classes
        return model.decode_head.num_classes
    return model.roi_head.bbox_head.num_classes


def _train_dataset(cfg: Config) -> dict:
    ds = cfg.train_dataloader.dataset
    return ds.datasets[0] if ds.type == 'ConcatDataset' else ds


def test_every_benchmark_has_r50_and_swin_b():
    names = [p.name for p in ALL]
    assert len(names) == 12 + 4 + 2 + 2
    for name in names:
        twin = name.replace('_r50-cmid', '_swin-b-cmid') if '_r50-' in name else \
            name.replace('_swin-b-cmid', '_r50-cmid')
        assert twin in names, name


@pytest.mark.parametrize('path', ALL, ids=lambda p: p.name)
def test_config_contract(path):
    scope, target = FOLDERS[path.parent.name]
    cfg = Config.fromfile(path)
    assert cfg.default_scope == scope
    assert cfg.custom_imports == dict(imports=['cmid_mm'], allow_failed_imports=False)
    backbone = cfg.model.backbone
    swin = '_swin-b-cmid' in path.name
    assert backbone.init_cfg == dict(
        type='Pretrained', prefix='backbone.',
        checkpoint=f'checkpoints/cmid_{"swin-b" if swin else "r50"}_{FILE_TARGET[target]}.pth')
    btype = backbone.type.split('.')[-1]
    if swin:
        assert btype == 'SwinTransformer'
        if scope == 'mmpretrain':
            assert backbone.arch == 'base' and backbone.img_size == 224
        else:
            assert {k: backbone[k] for k in SWIN_B} == SWIN_B
            assert backbone.get('convert_weights', False) is False
    else:
        # the plain ResNet-50 that CMID pretrains (7x7 stem), not ResNetV1c
        assert btype == 'ResNet' and backbone.depth == 50
        assert not backbone.get('deep_stem', False)
        assert backbone.get('pretrained') is None and cfg.model.get('pretrained') is None
    dataset = _dataset_of(path)
    assert _num_classes(cfg) == NUM_CLASSES[dataset]
    assert _train_dataset(cfg).type == DATASET_TYPE[dataset]
    assert cfg.val_dataloader.dataset.type == DATASET_TYPE[dataset]


# ---------------------------------------------------------------- weights reach the model
@pytest.fixture(scope='module')
def cmid_checkpoints(tmp_path_factory):
    """CMID-contract checkpoints with a ResNet-50 and a Swin-B student; the teacher
    aliases the student tensors to keep the files small."""
    folder = tmp_path_factory.mktemp('cmid_big')
    r50 = write_cmid_checkpoint(folder / 'cmid_r50.pth', 'resnet', teacher_offset=None,
                                depth=50)
    swin = write_cmid_checkpoint(folder / 'cmid_swinb.pth', 'swin', teacher_offset=None,
                                 arch='base')
    return {'r50': r50, 'swin-b': swin, 'folder': folder}


def _build(path: Path, checkpoint: Path):
    cfg = Config.fromfile(path)
    cfg.model.backbone.init_cfg.checkpoint = str(checkpoint)
    if 'data_preprocessor' in cfg and 'data_preprocessor' not in cfg.model:
        cfg.model.data_preprocessor = cfg.data_preprocessor  # what the Runner does
    init_default_scope(cfg.default_scope)
    model = registry_of(cfg.default_scope).build(cfg.model)
    model.init_weights()
    return model


KEY_CASES = [
    'classification/finetune_{bb}-cmid_1xb64-adan-200e_ucmerced-224x224.py',
    'classification/linear_{bb}-cmid_1xb64-sgd-coslr-90e_ucmerced-224x224.py',
    'segmentation/upernet_{bb}-cmid_1xb8-50e_potsdam-512x512.py',
    'detection/faster-rcnn-fpn_{bb}-cmid_1xb8-1x_dior-800x800.py',
    'rotated_detection/oriented-rcnn-le90-fpn_{bb}-cmid_1xb2-1x_dota-1024x1024.py',
]


@pytest.mark.parametrize('bb', ['r50', 'swin-b'])
def test_stock_models_take_every_exported_weight(cmid_checkpoints, bb):
    """extract_backbone -> shipped config -> stock model: zero missing, zero unexpected
    backbone keys, and the backbone holds the student's weights (the output norms of
    Swin stages 0-2, which CMID does not train, hold LayerNorm's initial values)."""
    ckpt, student = cmid_checkpoints[bb]
    student = student.state_dict()
    exported = {}
    for case in KEY_CASES:
        path = CONFIGS / case.format(bb=bb)
        target = FOLDERS[path.parent.name][1]
        file_target = FILE_TARGET[target]
        if file_target not in exported:
            out = cmid_checkpoints['folder'] / f'{bb}_{file_target}.pth'
            exported[file_target] = (out, export(ckpt, out, target))
        out, weights = exported[file_target]
        model = _build(path, out)
        got = model.backbone.state_dict()
        assert sorted(got) == sorted(weights), path.name  # no missing, no unexpected key
        for key, value in got.items():
            assert torch.equal(value, weights[key]), f'{path.name}: {key}'
            if key in student:
                assert torch.equal(value, student[key]), f'{path.name}: {key}'
            else:
                assert bb == 'swin-b' and key.split('.')[0] in ('norm0', 'norm1', 'norm2')
        del model


# ---------------------------------------------------------------- shared bases, DOTA splits
def test_detection_and_rotated_detection_share_one_swin_b_adamw_base():
    det = Config.fromfile(CONFIGS / 'detection/faster-rcnn-fpn_swin-b-cmid_1xb8-1x_dior-800x800.py')
    rot = Config.fromfile(CONFIGS / 'rotated_detection/'
                          'oriented-rcnn-le90-fpn_swin-b-cmid_1xb2-1x_dota-1024x1024.py')
    shared = Config.fromfile(CONFIGS / '_base_/swin-b-cmid_adamw.py')
    for cfg in (det, rot):
        assert cfg.model.backbone.to_dict() == shared.swin_b_backbone.to_dict()
        assert cfg.model.neck.in_channels == shared.swin_b_channels
        assert cfg.optim_wrapper.to_dict() == shared.swin_b_optim_wrapper.to_dict()
        assert cfg.pretrained == cfg.model.backbone.init_cfg.checkpoint


DOTA = {bb: CONFIGS / 'rotated_detection' /
        f'oriented-rcnn-le90-fpn_{bb}-cmid_1xb2-1x_dota-1024x1024.py' for bb in ('r50', 'swin-b')}


@pytest.mark.parametrize('bb', ['r50', 'swin-b'])
def test_dota_test_split_is_the_test_split_written_for_the_server(bb, tmp_path):
    """tools/test.py on the DOTA configs reads the unlabelled test split (not the training
    patches) and writes the Task1 submission; the header says which split is which."""
    pytest.importorskip('mmrotate')
    from mmrotate.registry import DATASETS, METRICS
    header = DOTA['r50'].read_text()
    assert '- test (tools/test.py): the DOTA v1.0 *test* split' in header
    assert 'the trainval/ patches = the training\n#   data' in header
    cfg = Config.fromfile(DOTA[bb])
    train, test = cfg.train_dataloader.dataset, cfg.test_dataloader.dataset
    assert test.data_prefix.img_path == 'test/images/' and test.ann_file == ''
    assert train.data_prefix.img_path == 'trainval/images/'
    assert not any('LoadAnnotations' in t.type for t in test.pipeline)
    ev = cfg.test_evaluator
    assert ev.type == 'DOTAMetric' and ev.format_only and ev.merge_patches

    # the split reads images only, and the metric writes one file per class for the server
    images = tmp_path / 'test' / 'images'
    images.mkdir(parents=True)
    src = FIXTURES / 'dota' / 'trainval' / 'images' / 'train000.png'
    (images / 'P0001__1024__0___0.png').write_bytes(src.read_bytes())
    init_default_scope('mmrotate')
    dataset = DATASETS.build(dict(test.to_dict(), data_root=str(tmp_path), pipeline=[]))
    assert len(dataset) == 1 and dataset[0]['img_path'] == str(images / 'P0001__1024__0___0.png')
    assert all(not inst['bbox'] for inst in dataset[0]['instances'])  # no labels read
    metric = METRICS.build(dict(ev.to_dict(), outfile_prefix=str(tmp_path / 'Task1')))
    metric.dataset_meta = dataset.metainfo
    metric.process({}, [dict(img_id='P0001__1024__0___0', gt_instances={}, ignored_instances={},
                             pred_instances=dict(bboxes=torch.tensor([[300., 200., 80., 40., 0.3]]),
                                                 scores=torch.tensor([0.9]),
                                                 labels=torch.tensor([0])))])
    assert metric.evaluate(1) == {}  # format_only: no score computed on unlabelled images
    plane = (tmp_path / 'Task1' / 'Task1_plane.txt').read_text().split()
    assert plane[0] == 'P0001' and float(plane[1]) == pytest.approx(0.9)
    assert (tmp_path / 'Task1' / 'Task1.zip').is_file()
