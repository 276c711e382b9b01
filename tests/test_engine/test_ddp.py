"""2-process gloo DDP: identical ranks, queue gathered from both, center all-reduced."""
import os
import socket
import sys
from pathlib import Path

import torch
import torch.multiprocessing as mp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _worker(rank: int, world: int, port: int, files: list[str], out: str) -> None:
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port), RANK=str(rank),
                      WORLD_SIZE=str(world), LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    torch.distributed.init_process_group('gloo', rank=rank, world_size=world)
    from conftest import make_cmid_batch as _batch
    from conftest import tiny_cmid_cfg
    from mmengine.logging import MessageHub
    from mmengine.model import MMDistributedDataParallel
    from mmengine.optim import OptimWrapper
    from mmpretrain.registry import MODELS

    import cmid_mm  # noqa: F401

    MessageHub.get_current_instance().update_info('max_iters', 10)
    torch.manual_seed(0)
    model = MODELS.build(tiny_cmid_cfg())
    model.init_weights()
    local_keys = []
    enqueue = model._dequeue_and_enqueue
    model._dequeue_and_enqueue = lambda k: (local_keys.append(k.clone()), enqueue(k))
    ddp = MMDistributedDataParallel(module=model, find_unused_parameters=True)
    wrapper = OptimWrapper(torch.optim.SGD(
        [p for p in model.parameters() if p.requires_grad], lr=0.1, momentum=0.9))
    batch = _batch(files[2 * rank:2 * rank + 2], seed=rank)  # each rank its own images
    for _ in range(2):
        ddp.train_step(batch, wrapper)
    torch.save(dict(state=model.state_dict(), keys=local_keys), f'{out}/rank{rank}.pt')
    torch.distributed.destroy_process_group()


def test_two_rank_gloo_training(tmp_path, pretrain_tiles):
    files = [str(f) for f in sorted(pretrain_tiles.glob('*.png'))[:4]]
    mp.spawn(_worker, args=(2, _free_port(), files, str(tmp_path)), nprocs=2, join=True)
    r0 = torch.load(tmp_path / 'rank0.pt', weights_only=True)
    r1 = torch.load(tmp_path / 'rank1.pt', weights_only=True)
    s0, s1 = r0['state'], r1['state']
    for k in s0:
        if 'running_' in k or 'num_batches_tracked' in k:
            continue  # BN statistics of each rank's own batch (no SyncBN)
        assert torch.allclose(s0[k].float(), s1[k].float(), atol=1e-6), k
    # each rank saw different images, so their own keys differ ...
    assert not torch.allclose(r0['keys'][0], r1['keys'][0])
    # ... and the queue holds both: step 1 wrote [rank0 (4), rank1 (4)], step 2 the next 8
    q = s0['queue'].T  # (queue_len, D)
    assert int(s0['queue_ptr']) == 16
    assert torch.allclose(q[0:4], r0['keys'][0], atol=1e-6)
    assert torch.allclose(q[4:8], r1['keys'][0], atol=1e-6)
    assert torch.allclose(q[8:12], r0['keys'][1], atol=1e-6)
    assert torch.allclose(q[12:16], r1['keys'][1], atol=1e-6)
    # the local-loss center is the same on both ranks although their data differ
    assert torch.equal(s0['local_loss.center'], s1['local_loss.center'])
    assert s0['local_loss.center'].abs().sum() > 0
