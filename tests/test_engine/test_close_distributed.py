"""close_distributed: the process group is gone after a finished run (tools/train.py, test.py).

That both ranks of a real 2-process ``dist_train.sh`` run close it is checked in
``tests/test_tools/test_train_tools.py`` (its stderr line per rank)."""
import socket

import torch.distributed as dist

from cmid_mm.utils.dist import close_distributed


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def test_close_distributed_destroys_the_group_and_is_a_no_op_without_one(capsys):
    close_distributed()  # no group: nothing to do, no error
    dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{_free_port()}', rank=0,
                            world_size=1)
    try:
        assert dist.is_initialized()
        close_distributed()
        assert not dist.is_initialized()
        assert capsys.readouterr().err.strip() == (
            '[cmid_mm] rank 0/1: process group closed after the run')
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
