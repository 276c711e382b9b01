"""Save and restore the global RNG states with a checkpoint, for bit-exact ``--resume``."""
import random

import numpy as np
import torch
from mmengine.dist import all_gather_object, get_dist_info
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmpretrain.registry import HOOKS


def get_rng_state() -> dict:
    """The python, numpy, torch (and CUDA) global RNG states of this process.

    Only tensors, ints, floats and tuples, so that the checkpoint loads with
    ``weights_only=True``.
    """
    _, key, pos, has_gauss, gauss = np.random.get_state(legacy=True)
    version, state, gauss_next = random.getstate()
    out = dict(python=(version, torch.tensor(state, dtype=torch.int64), gauss_next),
               numpy=(torch.from_numpy(key.astype(np.int64)), int(pos), int(has_gauss),
                      float(gauss)),
               torch=torch.get_rng_state())
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        out['cuda'] = torch.cuda.get_rng_state_all()
    return out


def set_rng_state(state: dict) -> None:
    """Restore what :func:`get_rng_state` returned.

    The tensors may come back on a GPU (``Runner.resume`` loads with
    ``map_location`` set to the device); RNG states must be CPU tensors.
    """
    version, py_state, gauss_next = state['python']
    random.setstate((version, tuple(int(x) for x in py_state.cpu().tolist()), gauss_next))
    key, pos, has_gauss, gauss = state['numpy']
    np.random.set_state(('MT19937', key.cpu().numpy().astype(np.uint32), int(pos),
                         int(has_gauss), float(gauss)))
    torch.set_rng_state(state['torch'].cpu())
    if 'cuda' in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state['cuda']])


@HOOKS.register_module()
class RNGStateHook(Hook):
    """Put every rank's global RNG states into checkpoints and restore them on resume.

    mmengine re-seeds at start-up and restores the sampler's epoch, but not
    the main process's python / numpy / torch random streams. With
    ``num_workers=0`` the data pipeline draws from them, so a resumed run
    would crop and mask differently from the uninterrupted one. The states
    of all ranks are gathered into ``checkpoint['rng_state']`` (a list indexed
    by rank); on resume each rank restores its own, at ``before_train``, i.e.
    after model initialisation and loading and just before the first batch,
    the same point in the random streams as right after the checkpoint was
    written. (With several ranks the states are gathered after every
    iteration, a few kB each.) Loading with ``load_from`` (not resuming) leaves the RNG alone,
    as does a change of world size (with a warning).
    ``tools/train.py`` registers this hook for every run.
    """

    # before CheckpointHook (VERY_LOW) so that the gathered states are those of the saved step
    priority = 'LOW'

    def __init__(self) -> None:
        self._pending: tuple[int, list] | None = None
        self._gathered: list | None = None

    def _gather(self, runner) -> None:
        # Runner.save_checkpoint (and its before_save_checkpoint) runs on rank 0 only, so
        # the other ranks' states are collected here, on every rank, before CheckpointHook
        if get_dist_info()[1] > 1:
            self._gathered = all_gather_object(get_rng_state())

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        self._gather(runner)

    def after_train_epoch(self, runner) -> None:
        self._gather(runner)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        states = [get_rng_state()] if get_dist_info()[1] == 1 else self._gathered
        if states is not None:
            checkpoint['rng_state'] = states

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        states = checkpoint.get('rng_state')
        if states is not None:
            self._pending = (checkpoint.get('meta', {}).get('iter'), states)

    def before_train(self, runner) -> None:
        if self._pending is None:
            return
        ckpt_iter, states = self._pending
        self._pending = None
        if ckpt_iter != runner.iter:  # load_from a trained checkpoint, not a resume
            return
        rank, world = get_dist_info()
        if len(states) != world:
            print_log(f'checkpoint holds RNG states of {len(states)} ranks, this run has '
                      f'{world}: random streams not restored (resume is not bit-exact)',
                      logger='current', level=30)
            return
        set_rng_state(states[rank])
        print_log('restored the python/numpy/torch RNG states saved with the checkpoint',
                  logger='current')
