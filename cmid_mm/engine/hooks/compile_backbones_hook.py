"""``torch.compile`` of CMID's student and teacher backbones, checked before step 1 (issue 21)."""
import shutil

import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmpretrain.registry import HOOKS
from torch import nn

KEY = "custom_hooks CompileBackbonesHook"
MODES = (None, 'default', 'reduce-overhead', 'max-autotune', 'max-autotune-no-cudagraphs')


def inductor_compiler() -> str | None:
    """Path of the C++ compiler inductor would call, or None if there is none.

    Returns:
        str | None: ``torch._inductor.cpp_builder.get_cpp_compiler()`` resolved
        with ``shutil.which``.
    """
    try:
        from torch._inductor.cpp_builder import get_cpp_compiler
        return shutil.which(get_cpp_compiler())
    except Exception:  # noqa: BLE001 - any failure means "no usable compiler"
        return None


def probe_compile(backend: str, mode: str | None, device: torch.device) -> str | None:
    """Compile and run a two-op function with forward and backward on ``device``.

    Args:
        backend (str): ``torch.compile`` backend.
        mode (str, optional): ``torch.compile`` mode.
        device (torch.device): Where the backbones run.

    Returns:
        str | None: The error, or None when the compiled function ran.
    """
    def fn(x):
        return (x.sin() * 2).sum()

    try:
        x = torch.ones(8, device=device, requires_grad=True)
        torch.compile(fn, backend=backend, mode=mode)(x).backward()
        return None
    except Exception as e:  # noqa: BLE001 - reported with the option named
        return f'{type(e).__name__}: {e}'.splitlines()[0]


def compile_backbones(model: nn.Module, backend: str = 'inductor',
                      mode: str | None = None) -> list[str]:
    """``nn.Module.compile`` the student backbone and the EMA teacher's backbone in place.

    ``Module.compile`` compiles the module's call only: parameters, buffers
    and state-dict keys are unchanged (no ``_orig_mod.`` prefix), so
    checkpoints, the EMA update and export see the same model.

    Args:
        model (nn.Module): A CMID algorithm (``backbone``, optionally
            ``teacher.module.backbone``).
        backend (str): ``torch.compile`` backend. Defaults to 'inductor'.
        mode (str, optional): ``torch.compile`` mode. Defaults to None.

    Returns:
        list[str]: Names of the compiled modules.
    """
    names = []
    for name in ('backbone', 'teacher.module.backbone'):
        module = model
        for part in name.split('.'):
            module = getattr(module, part, None)
        if isinstance(module, nn.Module):
            module.compile(backend=backend, mode=mode)
            names.append(name)
    if 'backbone' not in names:
        raise ValueError(f'{KEY}: the model ({type(model).__name__}) has no backbone to compile')
    return names


@HOOKS.register_module()
class CompileBackbonesHook(Hook):
    """Run the student and teacher backbones through ``torch.compile``.

    Our own (mmengine's ``compile`` runner option compiles the whole
    ``train_step``'s model call, which in CMID includes the EMA update and
    the loss bookkeeping; this compiles the backbones only). Enable with
    ``custom_hooks = [dict(type='CompileBackbonesHook')]``. It fails early
    with the hook named: at build when the backend or mode is unknown or
    inductor finds no C++ compiler, and in ``before_run`` (before step 1)
    when a tiny probe compile on the model's device does not run.

    Args:
        backend (str): ``torch.compile`` backend. Defaults to 'inductor'.
        mode (str, optional): ``torch.compile`` mode. Defaults to None.
    """

    priority = 'VERY_HIGH'

    def __init__(self, backend: str = 'inductor', mode: str | None = None) -> None:
        if not hasattr(torch, 'compile'):
            raise RuntimeError(f'{KEY}: torch {torch.__version__} has no torch.compile')
        backends = torch._dynamo.list_backends(exclude_tags=())
        if backend not in backends:
            raise ValueError(f'{KEY}: backend={backend!r} is not one of {backends}')
        if mode not in MODES:
            raise ValueError(f'{KEY}: mode={mode!r} is not one of {MODES}')
        if backend == 'inductor' and inductor_compiler() is None:
            raise RuntimeError(f'{KEY}: backend=inductor needs a C++ compiler (g++ or $CXX) and '
                               'none was found; install one or remove the hook')
        self.backend, self.mode = backend, mode

    def before_run(self, runner) -> None:
        """Probe the backend on the model's device, then compile the backbones."""
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        device = next(model.parameters()).device
        error = probe_compile(self.backend, self.mode, device)
        if error is not None:
            raise RuntimeError(f'{KEY}: torch.compile(backend={self.backend!r}, '
                               f'mode={self.mode!r}) does not work on {device}: {error}')
        names = compile_backbones(model, self.backend, self.mode)
        runner.logger.info(f'CompileBackbonesHook: compiled {", ".join(names)} '
                           f'(backend={self.backend}, mode={self.mode})')
