"""Atomic checkpoints, non-finite guards and safe checkpoint loading."""
import os
import pickle

import numpy as np
import pytest
import torch
from conftest import make_cmid_batch, tiny_cmid_cfg
from mmengine.logging import HistoryBuffer, MessageHub
from mmpretrain.registry import MODELS

from cmid_mm.engine import AtomicLocalBackend, SkipNonFiniteOptimWrapper
from cmid_mm.engine.hooks import FiniteCheckpointHook
from cmid_mm.utils import safe_load_checkpoint


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
