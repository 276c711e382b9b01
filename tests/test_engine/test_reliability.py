"""Atomic checkpoints, non-finite guards and safe checkpoint loading."""
import os
import pickle
import re
import signal
import stat
import subprocess
import sys

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer, MessageHub
from mmpretrain.registry import MODELS

from cmid_mm.engine import (
    AtomicLocalBackend,
    NothingToResumeError,
    SkipNonFiniteOptimWrapper,
    checkpoint_problem,
    find_resume_checkpoint,
    remove_interrupted_writes,
)
from cmid_mm.engine.hooks import FiniteCheckpointHook
from cmid_mm.utils import safe_load_checkpoint
from tests.helpers import REPO, make_cmid_batch, tiny_cmid_cfg


def test_atomic_put_never_leaves_a_partial_file(tmp_path, monkeypatch):
    target = tmp_path / 'epoch_1.pth'
    backend = AtomicLocalBackend()
    backend.put(b'old good checkpoint', target)
    assert target.read_bytes() == b'old good checkpoint'

    def crash(fd):  # the process dies after writing some bytes, before the rename
        raise KeyboardInterrupt
    monkeypatch.setattr(os, 'fsync', crash)
    with pytest.raises(KeyboardInterrupt):
        backend.put(b'new half-written', target)
    assert target.read_bytes() == b'old good checkpoint'
    assert [p.name for p in tmp_path.iterdir()] == ['epoch_1.pth']  # temp file cleaned


def test_finite_checkpoint_hook_refuses_nan(tmp_path):
    class R:
        iter, work_dir = 7, str(tmp_path)
    hook = FiniteCheckpointHook()
    hook.before_save_checkpoint(R, {'state_dict': {'w': torch.ones(2)}})
    with pytest.raises(FloatingPointError, match=r"iteration 7.*\['b'\]"):
        hook.before_save_checkpoint(R, {'state_dict': {'w': torch.ones(2),
                                                       'b': torch.tensor([float('nan')])}})


@pytest.fixture
def tiny_model_and_data(pretrain_tiles):
    MessageHub.get_current_instance().update_info('max_iters', 10)
    torch.manual_seed(0)
    model = MODELS.build(tiny_cmid_cfg())
    batch = make_cmid_batch(sorted(pretrain_tiles.glob('*.png'))[:2])
    return model, model.data_preprocessor(batch, training=True)


def test_nonfinite_loss_raises_naming_the_term(tiny_model_and_data, monkeypatch):
    model, data = tiny_model_and_data
    monkeypatch.setattr(model.head, 'loss', lambda *a: torch.tensor(float('nan')))
    with pytest.raises(FloatingPointError, match='loss_rec=nan'):
        model(**data, mode='loss')


def test_skip_mode_drops_the_step(tiny_model_and_data, monkeypatch):
    model, data = tiny_model_and_data
    model.nonfinite_loss = 'skip'
    monkeypatch.setattr(model.head, 'loss', lambda *a: torch.tensor(float('inf')))
    params = [p for p in model.parameters() if p.requires_grad]
    wrapper = SkipNonFiniteOptimWrapper(torch.optim.SGD(params, lr=1.0))
    before = [p.detach().clone() for p in params]
    losses = model(**data, mode='loss')
    wrapper.update_params(sum(losses.values()))
    assert wrapper.skipped_steps == 1
    assert all(torch.equal(a, p) for a, p in zip(before, params))
    monkeypatch.undo()
    wrapper.update_params(sum(model(**data, mode='loss').values()))
    assert any(not torch.equal(a, p) for a, p in zip(before, params))


class Payload:
    """An arbitrary object: unpickling it would run code of the file's choosing."""

    def __reduce__(self):
        return (os.system, ('echo pwned > /dev/null',))


def test_checkpoint_with_pickled_object_is_refused(tmp_path):
    bad = tmp_path / 'evil.pth'
    torch.save({'state_dict': {'w': torch.ones(1)}, 'extra': Payload()}, bad)
    with pytest.raises(ValueError, match=r'evil\.pth.*weights_only=True'):
        safe_load_checkpoint(bad)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(bad, weights_only=True)  # what mmengine's resume path does


def test_mmengine_checkpoint_types_are_allowed(tmp_path):
    buf = HistoryBuffer()
    buf.update(np.float64(1.5))
    good = tmp_path / 'good.pth'
    torch.save({'state_dict': {'w': torch.ones(1)},
                'message_hub': {'log_scalars': {'train/loss': buf},
                                'runtime_info': {'x': np.float32(2.0), 'a': np.arange(3)}}}, good)
    ckpt = safe_load_checkpoint(good)
    assert ckpt['message_hub']['log_scalars']['train/loss'].current() == 1.5


def test_truncated_and_missing_checkpoints_are_reported(tmp_path):
    good = tmp_path / 'ok.pth'
    torch.save({'state_dict': {'w': torch.ones(1000)}}, good)
    cut = tmp_path / 'cut.pth'
    cut.write_bytes(good.read_bytes()[:500])
    with pytest.raises(ValueError, match='cut.pth'):
        safe_load_checkpoint(cut)
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        safe_load_checkpoint(tmp_path / 'nope.pth')


@pytest.mark.parametrize('umask', [0o022, 0o027])
def test_atomic_put_respects_the_umask(tmp_path, umask):
    old = os.umask(umask)
    try:
        AtomicLocalBackend().put(b'ckpt', tmp_path / 'epoch_1.pth')
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / 'epoch_1.pth').stat().st_mode) == 0o666 & ~umask


def test_interrupted_atomic_save_leaves_a_temp_file_that_the_next_start_removes(tmp_path):
    # a real SIGKILL in the middle of a save, in a child process
    code = ('import os, signal, sys\n'
            'from cmid_mm.engine import AtomicLocalBackend\n'
            'os.fsync = lambda fd: os.kill(os.getpid(), signal.SIGKILL)\n'
            'AtomicLocalBackend().put(b"x" * 100000, sys.argv[1])\n')
    proc = subprocess.run([sys.executable, '-c', code, str(tmp_path / 'epoch_2.pth')],
                          env={**os.environ, 'PYTHONPATH': str(REPO)})
    assert proc.returncode == -signal.SIGKILL
    (tmp,) = tmp_path.iterdir()
    assert tmp.name.startswith('.epoch_2.pth.') and tmp.name.endswith('.tmp')
    keep = [tmp_path / 'epoch_1.pth', tmp_path / 'notes.tmp', tmp_path / '.hidden.tmp']
    for p in keep:
        p.write_bytes(b'not ours')
    assert remove_interrupted_writes(tmp_path) == [tmp]
    assert sorted(tmp_path.iterdir()) == sorted(keep)
    assert remove_interrupted_writes(tmp_path / 'missing') == []


def _ckpts(tmp_path, n=3):
    for i in range(1, n + 1):
        torch.save({'state_dict': {'w': torch.full((2000,), float(i))},
                    'meta': {'epoch': i, 'iter': 2 * i}}, tmp_path / f'epoch_{i}.pth')
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / f'epoch_{n}.pth'))


def test_resume_picks_the_newest_complete_checkpoint(tmp_path):
    _ckpts(tmp_path)
    assert find_resume_checkpoint(tmp_path) == (str(tmp_path / 'epoch_3.pth'), [])
    last = tmp_path / 'epoch_3.pth'
    last.write_bytes(last.read_bytes()[:5000])  # truncated (disk full, killed copy, ...)
    path, skipped = find_resume_checkpoint(tmp_path)
    assert path == str(tmp_path / 'epoch_2.pth')
    assert skipped[0][0] == str(last) and 'truncated or corrupt' in skipped[0][1]
    # one flipped byte inside the tensor data: the archive's CRC check catches it
    mid = tmp_path / 'epoch_2.pth'
    data = bytearray(mid.read_bytes())
    i = data.index(np.float32(2.0).tobytes() * 4)
    data[i] ^= 0xFF
    mid.write_bytes(bytes(data))
    assert checkpoint_problem(mid).startswith('corrupt: CRC mismatch')
    path, skipped = find_resume_checkpoint(tmp_path)
    assert path == str(tmp_path / 'epoch_1.pth') and [p for p, _ in skipped] == [str(last),
                                                                                  str(mid)]
    (tmp_path / 'epoch_1.pth').write_bytes(b'')
    with pytest.raises(NothingToResumeError, match=r'no complete checkpoint.*epoch_1\.pth: empty'):
        find_resume_checkpoint(tmp_path)


def test_resume_without_a_checkpoint_says_so(tmp_path):
    with pytest.raises(NothingToResumeError, match=f'nothing to resume in {tmp_path}'):
        find_resume_checkpoint(tmp_path)
    # without last_checkpoint, the highest-numbered file wins
    _ckpts(tmp_path)
    (tmp_path / 'last_checkpoint').unlink()
    assert find_resume_checkpoint(tmp_path)[0] == str(tmp_path / 'epoch_3.pth')


class MarkerPayload:
    """Unpickling this creates a folder: proof that the file ran code on load."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.makedirs, (self.marker,))


@pytest.fixture
def evil_checkpoint(tmp_path, monkeypatch):
    """A checkpoint carrying a pickle payload; torch's unsafe-load switch set in the env."""
    marker = tmp_path / 'payload_ran'
    evil = tmp_path / 'evil.pth'
    torch.save({'state_dict': {'weight': torch.ones(2, 3)}, 'meta': {},
                'extra': MarkerPayload(marker)}, evil)
    monkeypatch.setenv('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', '1')
    # control: torch's default load in this environment does run the payload
    clone = tmp_path / 'control.pth'
    torch.save({'x': MarkerPayload(tmp_path / 'control_ran')}, clone)
    with pytest.warns(UserWarning, match='TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD'):
        torch.load(clone)
    assert (tmp_path / 'control_ran').is_dir()
    return evil, marker


def test_pickle_payload_never_runs_through_mmengine_loaders(evil_checkpoint):
    from mmengine.model import BaseModule
    from mmengine.runner.checkpoint import (
        CheckpointLoader,
        _load_checkpoint,
        load_checkpoint,
        load_from_http,
    )
    evil, marker = evil_checkpoint
    url = evil.as_uri()  # https://, torchvision://, mmcls:// ... all end in load_from_http
    msg = rf'cannot load checkpoint {re.escape(str(evil))}: .*weights_only=True'

    class Net(BaseModule):
        def __init__(self, init_cfg=None):
            super().__init__(init_cfg)
            self.fc = torch.nn.Linear(3, 2)

    loads = [lambda: _load_checkpoint(str(evil), map_location='cpu'),  # load_from / --resume
             lambda: load_checkpoint(Net(), str(evil)),
             lambda: CheckpointLoader.load_checkpoint(str(evil)),
             lambda: Net(init_cfg=dict(type='Pretrained', checkpoint=str(evil))).init_weights(),
             lambda: safe_load_checkpoint(evil)]
    for load in loads:
        with pytest.raises(ValueError, match=msg):
            load()
        assert not marker.exists()
    with pytest.raises(ValueError, match=rf'cannot load checkpoint {re.escape(url)}'):
        load_from_http(url, model_dir=str(evil.parent / 'hub'))
    assert (evil.parent / 'hub/evil.pth').is_file() and not marker.exists()


def test_rng_state_round_trip_through_a_weights_only_checkpoint(tmp_path):
    import random

    from cmid_mm.engine.rng_state import get_rng_state, set_rng_state

    def draw():
        return random.random(), np.random.rand(3).tolist(), np.random.randn(), torch.rand(3)

    np.random.randn()  # leave a cached gaussian in numpy's state
    torch.save({'rng_state': [get_rng_state()]}, tmp_path / 'c.pth')
    first = draw()
    set_rng_state(safe_load_checkpoint(tmp_path / 'c.pth')['rng_state'][0])
    second = draw()
    assert first[:3] == second[:3] and torch.equal(first[3], second[3])
