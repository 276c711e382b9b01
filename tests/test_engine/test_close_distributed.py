"""close_distributed: the process group is gone after a finished run (tools/train.py, test.py)."""
import socket

import torch.distributed as dist

from cmid_mm.utils.dist import close_distributed


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def test_close_distributed_destroys_the_group_and_is_a_no_op_without_one():
    close_distributed()  # no group: nothing to do, no error
    dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{_free_port()}', rank=0,
                            world_size=1)
    try:
        assert dist.is_initialized()
        close_distributed()
        assert not dist.is_initialized()
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


def test_the_tools_close_the_group_after_the_run():
    """Both MM entry points call it right after the run (a rank that exits with gloo's
    threads alive can abort at shutdown and fail a finished dist_train.sh run)."""
    from pathlib import Path
    tools = Path(__file__).resolve().parents[2] / 'tools'
    for name, call in (('train.py', 'runner.train()'), ('test.py', 'runner.test()')):
        lines = [ln.strip() for ln in (tools / name).read_text().splitlines()]
        at = next(i for i, ln in enumerate(lines) if call in ln)
        assert lines[at + 1].startswith('close_distributed()'), name
