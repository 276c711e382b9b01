from .adan_check import check_adan_foreach
from .atomic_backend import AtomicLocalBackend, remove_interrupted_writes
from .bf16_optim_wrapper import BF16AutocastOptimWrapper, check_bf16_supported
from .hooks import *  # noqa: F401,F403
from .optim_wrapper import SkipNonFiniteOptimWrapper
from .resume import NothingToResumeError, checkpoint_problem, find_resume_checkpoint
from .rng_state import RNGStateHook
from .safe_loading import enforce_weights_only_loading, weights_only_loading_enforced

__all__ = ['AtomicLocalBackend', 'SkipNonFiniteOptimWrapper', 'RNGStateHook',
           'NothingToResumeError', 'checkpoint_problem', 'find_resume_checkpoint',
           'remove_interrupted_writes', 'enforce_weights_only_loading',
           'weights_only_loading_enforced', 'check_adan_foreach',
           'BF16AutocastOptimWrapper', 'check_bf16_supported']

# `import cmid_mm` (and configs' custom_imports) makes mmengine's load_from, --resume and
# init_cfg=dict(type='Pretrained') load with weights_only=True, whatever the environment says
enforce_weights_only_loading()
