"""Bad-image counts summed over dataloader workers, epochs and ranks (BadImageCountHook)."""
import json
import os
import shutil
import socket
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp

from cmid_mm.datasets.transforms.bad_image_record import (
    BAD_IMAGE_DIR_ENV,
    read_bad_images,
    record_bad_image,
)


class TinyModel(torch.nn.Module):
    """Enough of a model for the Runner: one weight, loss = w * mean(image)."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(()))

    def train_step(self, data, optim_wrapper):
        inputs = torch.stack([x.float() for x in data['inputs']]) \
            if isinstance(data['inputs'], list) else data['inputs'].float()
        loss = self.w * inputs.mean()
        optim_wrapper.update_params(loss)
        return {'loss': loss}


@pytest.fixture
def tile_folder(tmp_path, pretrain_tiles):
    """10 real tiles and two bad files that sort first (indices 0 and 1)."""
    folder = tmp_path / 'tiles'
    folder.mkdir()
    good = sorted(pretrain_tiles.glob('*.png'))[:10]
    for f in good:
        shutil.copy(f, folder / f.name)
    data = good[0].read_bytes()
    (folder / 'a_bad0.png').write_bytes(data[:len(data) // 3])  # truncated PNG
    (folder / 'a_bad1.png').write_bytes(b'not an image at all\n')
    return folder


def test_counts_over_two_workers_and_epochs_reach_log_and_scalars(tmp_path, tile_folder):
    from mmengine.runner import Runner

    import cmid_mm  # noqa: F401
    work_dir = tmp_path / 'work'
    runner = Runner(
        model=TinyModel(), work_dir=str(work_dir), default_scope='mmpretrain',
        train_dataloader=dict(
            batch_size=1, num_workers=2, persistent_workers=False,
            sampler=dict(type='DefaultSampler', shuffle=False),
            collate_fn=dict(type='default_collate'),
            dataset=dict(type='CustomDataset', data_root=str(tile_folder), with_label=False,
                         pipeline=[dict(type='LoadRSImage', skip_bad_images=True),
                                   dict(type='Resize', scale=(16, 16)),
                                   dict(type='PackInputs')])),
        train_cfg=dict(by_epoch=True, max_epochs=2),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
        default_hooks=dict(checkpoint=None, logger=dict(type='LoggerHook', interval=4)),
        custom_hooks=[dict(type='BadImageCountHook')],
        visualizer=dict(type='Visualizer', vis_backends=[dict(type='LocalVisBackend')]),
        randomness=dict(seed=0), env_cfg=dict(mp_cfg=dict(mp_start_method='fork')),
        log_level='INFO')
    runner.train()
    assert BAD_IMAGE_DIR_ENV not in os.environ  # restored after training

    log_dir = Path(runner.log_dir)
    records = read_bad_images(log_dir / 'bad_images' / 'rank0')
    bad = {str(tile_folder / 'a_bad0.png'), str(tile_folder / 'a_bad1.png')}
    assert {r['path'] for r in records} == bad
    # each epoch: both bad files are drawn once by the sampler (one in each worker), plus
    # any random refetch that lands on a bad file again
    lines = [json.loads(x) for x in (log_dir / 'vis_data' / 'scalars.json').read_text()
             .splitlines()]
    epochs = [x for x in lines if 'skipped_images_total' in x and 'loss' not in x]
    assert [x['epoch'] for x in epochs] == [1, 2]
    n1, n2 = (x['skipped_images'] for x in epochs)
    assert n1 >= 2 and n2 >= 2
    assert [x['skipped_images_total'] for x in epochs] == [n1, n1 + n2] == [n1, len(records)]
    # the non-persistent workers of both epochs wrote (4 processes, none of them the main one)
    pids = {f.stem for f in (log_dir / 'bad_images' / 'rank0').iterdir()}
    assert len(pids) == 4 and f'skipped-{os.getpid()}' not in pids
    log = next(log_dir.glob('*.log')).read_text()
    assert f'Epoch(1): skipped {n1} bad image(s) in all dataloader workers and ranks' in log
    assert f'Epoch(2): skipped {n2} bad image(s)' in log and f'{n1 + n2} in this run' in log
    # the iteration log lines of epoch 2 carry epoch 1's count
    assert runner.message_hub.get_scalar('train/skipped_images').current() == n2
    assert any(x.get('skipped_images') == n1 and 'loss' in x and x['epoch'] == 2 for x in lines)


def test_without_the_hook_nothing_is_written(tmp_path, monkeypatch):
    monkeypatch.delenv(BAD_IMAGE_DIR_ENV, raising=False)
    assert record_bad_image('x.png', 'empty file') is False
    monkeypatch.setenv(BAD_IMAGE_DIR_ENV, str(tmp_path))
    assert record_bad_image('x.png', 'empty file') is True
    (tmp_path / 'skipped-1.jsonl').write_text('{"path": "cut')  # a write cut short
    assert read_bad_images(tmp_path) == [{'path': 'x.png', 'problem': 'empty file'}]


class _FakeRunner:
    """The parts of a Runner that BadImageCountHook uses."""

    def __init__(self, log_dir):
        from mmengine.logging import MessageHub, MMLogger
        self.log_dir, self.epoch, self.iter = str(log_dir), 0, 7
        self.message_hub = MessageHub.get_instance(f'bad_images_{os.getpid()}')
        self.logger = MMLogger.get_instance(f'bad_images_{os.getpid()}')
        self.scalars = []
        self.visualizer = self

    def add_scalars(self, scalars, step):
        self.scalars.append((dict(scalars), step))


def test_clean_run_logs_zero_but_adds_nothing_to_iteration_lines(tmp_path):
    from cmid_mm.engine.hooks import BadImageCountHook
    runner = _FakeRunner(tmp_path)
    hook = BadImageCountHook()
    hook.before_train(runner)
    hook.after_train_epoch(runner)
    hook.after_train(runner)
    assert runner.scalars == [({'epoch': 1, 'skipped_images': 0, 'skipped_images_total': 0}, 7)]
    assert 'train/skipped_images' not in runner.message_hub.log_scalars


def test_total_continues_after_resume(tmp_path):
    """A resumed run starts from the total in the checkpoint's message hub."""
    from cmid_mm.engine.hooks import BadImageCountHook
    runner = _FakeRunner(tmp_path)
    runner.message_hub.update_scalar('train/skipped_images_total', 5)  # as loaded by resume
    hook = BadImageCountHook()
    hook.before_train(runner)
    record_bad_image('late.png', 'truncated')
    hook.after_train_epoch(runner)
    hook.after_train(runner)
    assert runner.scalars[0][0]['skipped_images'] == 1
    assert runner.message_hub.get_scalar('train/skipped_images_total').current() == 6


def _rank_worker(rank: int, world: int, port: int, root: str) -> None:
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port), RANK=str(rank),
                      WORLD_SIZE=str(world), LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    torch.distributed.init_process_group('gloo', rank=rank, world_size=world)
    from cmid_mm.engine.hooks.bad_image_count_hook import BadImageCountHook
    runner = _FakeRunner(Path(root) / f'run{rank}')
    hook = BadImageCountHook()
    hook.before_train(runner)
    for i in range(rank + 1):  # rank 0 skips 1 image, rank 1 skips 2
        record_bad_image(f'rank{rank}_{i}.png', 'corrupt')
    hook.after_train_epoch(runner)
    hook.after_train(runner)
    out = dict(epoch=runner.message_hub.get_scalar('train/skipped_images').current(),
               total=runner.message_hub.get_scalar('train/skipped_images_total').current(),
               scalars=runner.scalars)
    Path(root, f'rank{rank}.json').write_text(json.dumps(out, default=float))
    # both ranks leave their collectives before either tears gloo down (a rank that
    # destroys the group while its peer is still connected can abort at exit)
    torch.distributed.barrier()
    torch.distributed.destroy_process_group()


def test_counts_are_summed_over_ranks(tmp_path):
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    import cmid_mm.engine.hooks  # noqa: F401  (imported once here; forked ranks inherit it)
    mp.start_processes(_rank_worker, args=(2, port, str(tmp_path)), nprocs=2, join=True,
                       start_method='fork')
    for rank in range(2):
        out = json.loads((tmp_path / f'rank{rank}.json').read_text())
        assert out['epoch'] == 3 and out['total'] == 3  # 1 + 2 on every rank
        assert out['scalars'] == [[{'epoch': 1, 'skipped_images': 3,
                                    'skipped_images_total': 3}, 7]]
