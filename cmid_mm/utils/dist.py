"""CPU-only distributed start-up for the MM tools."""
import sys

import torch
import torch.distributed as dist


def setup_cpu_distributed(cfg, launcher: str) -> None:
    """On machines without CUDA, start a gloo process group before the Runner.

    mmengine's ``init_dist('pytorch')`` always calls ``torch.cuda.set_device``
    and so fails on CPU; the Runner skips its own initialisation when a group
    already exists. It also switches ``env_cfg.dist_cfg.backend`` to gloo and
    wraps the model in DDP without ``device_ids`` (the Runner's default passes
    the local rank as a CUDA device). No-op with CUDA or without a launcher.
    """
    if launcher == 'none' or torch.cuda.is_available():
        return
    cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})['backend'] = 'gloo'
    wrapper = cfg.get('model_wrapper_cfg') or dict(
        type='MMDistributedDataParallel', broadcast_buffers=False,
        find_unused_parameters=cfg.get('find_unused_parameters', False))
    wrapper['device_ids'] = None
    cfg.model_wrapper_cfg = wrapper
    if not dist.is_initialized():
        dist.init_process_group(backend='gloo')  # rank/world/master from torchrun's env


def close_distributed() -> None:
    """After a run that finished, wait for every rank, then destroy the process group.

    Without it a rank that finishes first exits with gloo's worker threads still
    alive and can abort at interpreter shutdown ("terminate called without an
    active exception", SIGABRT; seen on 2 CPU ranks after the last checkpoint save
    while rank 0 was still writing, pytorch/pytorch#190489), so ``dist_train.sh``
    returns non-zero for a run that finished. Call it only after success: a
    barrier with a crashed rank would hang. No-op without a process group.
    """
    if not dist.is_initialized():
        return
    rank, world = dist.get_rank(), dist.get_world_size()
    dist.barrier()
    dist.destroy_process_group()
    print(f'[cmid_mm] rank {rank}/{world}: process group closed after the run',
          file=sys.stderr, flush=True)
