from .atomic_backend import AtomicLocalBackend
from .hooks import *  # noqa: F401,F403
from .optim_wrapper import SkipNonFiniteOptimWrapper

__all__ = ['AtomicLocalBackend', 'SkipNonFiniteOptimWrapper']
