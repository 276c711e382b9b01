"""extract_backbone.py on a checkpoint written by a real (short) CMID run."""
import torch

from cmid_mm.utils import safe_load_checkpoint
from tools.model_converters import extract_backbone

from .downstream_helpers import export


def test_the_run_checkpoint_follows_the_contract(real_cmid_r18):
    ckpt = safe_load_checkpoint(real_cmid_r18)
    state = ckpt['state_dict']
    assert state['backbone.mask_token'].shape == (1, 64, 1, 1)
    assert any(k.startswith('teacher.module.backbone.') for k in state)
    assert "type='CMID'" in ckpt['meta']['cfg']


def test_student_and_teacher_exports(real_cmid_r18, cmid_r18, tmp_path, capsys):
    from mmseg.models.backbones import ResNet
    student, exports = cmid_r18
    state = safe_load_checkpoint(real_cmid_r18)['state_dict']
    exported = torch.load(exports['mmseg'], map_location='cpu', weights_only=True)
    assert exported['meta']['cmid_export']['backbone_kwargs']['depth'] == 18
    sd = exported['state_dict']
    assert sorted(sd) == sorted(f'backbone.{k}' for k in student if k != 'mask_token')
    assert all(torch.equal(v, state[k]) for k, v in sd.items())
    # loads strictly into mmseg's stock ResNet-18
    ResNet(depth=18).load_state_dict({k[len('backbone.'):]: v for k, v in sd.items()})

    teacher = export(real_cmid_r18, tmp_path / 'teacher.pth', 'mmseg')  # student again
    assert all(torch.equal(teacher[k], student[k]) for k in teacher)
    capsys.readouterr()
    assert extract_backbone.main([str(real_cmid_r18), str(tmp_path / 't.pth'), '--teacher']) == 0
    out, err = capsys.readouterr()
    # the structure came from the run's own config (meta['cfg']), checked against mmpretrain
    assert 'no readable config' not in err
    assert 'vs stock mmpretrain ResNet (checkpoint config): all keys and shapes match' in out
    t_sd = torch.load(tmp_path / 't.pth', map_location='cpu', weights_only=True)['state_dict']
    assert all(torch.equal(v, state['teacher.module.' + k]) for k, v in t_sd.items())
    # after two EMA steps (momentum 0.996) the teacher's weights are near, not equal to,
    # the student's
    conv = 'backbone.layer1.0.conv1.weight'
    assert not torch.equal(t_sd[conv], sd[conv])
    torch.testing.assert_close(t_sd[conv], sd[conv], atol=1e-2, rtol=0)
