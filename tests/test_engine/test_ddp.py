"""2-process gloo DDP: identical ranks, queue gathered from both, center all-reduced."""
import os
import socket

import torch
import torch.multiprocessing as mp
import torch.nn.functional as F


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _worker(rank: int, world: int, port: int, files: list[str], out: str) -> None:
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port), RANK=str(rank),
                      WORLD_SIZE=str(world), LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    torch.distributed.init_process_group('gloo', rank=rank, world_size=world)
    from mmengine.logging import MessageHub
    from mmengine.model import MMDistributedDataParallel
    from mmengine.optim import OptimWrapper
    from mmpretrain.registry import MODELS

    import cmid_mm  # noqa: F401
    from tests.helpers import make_cmid_batch as _batch
    from tests.helpers import tiny_cmid_cfg

    MessageHub.get_current_instance().update_info('max_iters', 10)
    torch.manual_seed(0)
    model = MODELS.build(tiny_cmid_cfg())
    model.init_weights()
    local_keys = []
    commit = model.global_head.commit  # this rank's keys, view A then view B, normalised
    model.global_head.commit = lambda k: (
        local_keys.append(F.normalize(torch.cat(k), dim=1).clone()), commit(k))
    ddp = MMDistributedDataParallel(module=model, find_unused_parameters=True)
    wrapper = OptimWrapper(torch.optim.SGD(
        [p for p in model.parameters() if p.requires_grad], lr=0.1, momentum=0.9))
    batch = _batch(files[2 * rank:2 * rank + 2], seed=rank)  # each rank its own images
    for _ in range(2):
        ddp.train_step(batch, wrapper)
    torch.save(dict(state=model.state_dict(), keys=local_keys), f'{out}/rank{rank}.pt')
    # both ranks leave their collectives before either tears gloo down (a rank that
    # destroys the group while its peer is still connected can abort at exit)
    torch.distributed.barrier()
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
    q = s0['global_head.queue'].T  # (queue_len, D)
    assert int(s0['global_head.queue_ptr']) == 16
    assert torch.allclose(q[0:4], r0['keys'][0], atol=1e-6)
    assert torch.allclose(q[4:8], r1['keys'][0], atol=1e-6)
    assert torch.allclose(q[8:12], r0['keys'][1], atol=1e-6)
    assert torch.allclose(q[12:16], r1['keys'][1], atol=1e-6)
    # the local-loss center is the same on both ranks although their data differ
    assert torch.equal(s0['local_loss.center'], s1['local_loss.center'])
    assert s0['local_loss.center'].abs().sum() > 0


def _skip_worker(rank: int, world: int, port: int, out: str) -> None:
    """Rank 0's loss is NaN at step 1, rank 1's is finite; step 2 is finite on both."""
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port), RANK=str(rank),
                      WORLD_SIZE=str(world), LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    torch.distributed.init_process_group('gloo', rank=rank, world_size=world)
    from mmengine.logging import MessageHub

    from cmid_mm.engine import SkipNonFiniteOptimWrapper

    MessageHub.get_current_instance()
    torch.manual_seed(0)  # same initial weights on both ranks
    model = torch.nn.Linear(3, 2)
    wrapper = SkipNonFiniteOptimWrapper(torch.optim.SGD(model.parameters(), lr=0.5))
    x = torch.arange(12.).reshape(4, 3)  # same data: finite steps keep the ranks identical
    states = [{k: v.clone() for k, v in model.state_dict().items()}]
    for step in range(2):
        loss = model(x).pow(2).mean()
        if step == 0 and rank == 0:
            loss = loss * float('nan')
        wrapper.update_params(loss)
        states.append({k: v.clone() for k, v in model.state_dict().items()})
    torch.save(dict(states=states, skipped=wrapper.skipped_steps), f'{out}/skip{rank}.pt')
    # both ranks leave their collectives before either tears gloo down (a rank that
    # destroys the group while its peer is still connected can abort at exit)
    torch.distributed.barrier()
    torch.distributed.destroy_process_group()


def test_nonfinite_loss_on_one_rank_skips_the_step_on_every_rank(tmp_path):
    mp.spawn(_skip_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    r0 = torch.load(tmp_path / 'skip0.pt', weights_only=True)
    r1 = torch.load(tmp_path / 'skip1.pt', weights_only=True)
    # both ranks counted one skip, although only rank 0 saw the NaN
    assert r0['skipped'] == r1['skipped'] == 1
    for k in r0['states'][0]:
        for step in range(3):  # the ranks never diverge
            assert torch.equal(r0['states'][step][k], r1['states'][step][k]), (step, k)
        # step 1 was skipped (on rank 1 too) and step 2, finite everywhere, was taken
        assert torch.equal(r1['states'][1][k], r1['states'][0][k]), k
        assert not torch.equal(r1['states'][2][k], r1['states'][1][k]), k
