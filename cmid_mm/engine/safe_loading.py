"""Make mmengine's checkpoint loaders load with ``weights_only=True``.

mmengine 0.10 calls ``torch.load(filename, map_location=...)`` without
``weights_only`` (``load_from``, ``--resume``, ``init_cfg=dict(type='Pretrained')``,
``load_checkpoint``, ``s3://``, ``pavi://``). torch >= 2.6 defaults to
``weights_only=True``, but the environment variable
``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1`` turns that default off, and a
checkpoint file could then run arbitrary code while unpickling. URLs
(``https://``, ``torchvision://``, ``open-mmlab://``, ``mmcls://``) go through
``torch.hub.load_state_dict_from_url``, whose default turns weights_only off.

``import cmid_mm`` calls :func:`enforce_weights_only_loading`, which gives
``mmengine.runner.checkpoint`` a ``torch`` whose ``load`` is
:func:`cmid_mm.utils.checkpoint.weights_only_load` (explicit
``weights_only=True``, the mmengine allow-list, an error naming the file;
everything else is the real ``torch``) and a ``load_url`` that passes
``weights_only=True``. ``torch.load`` itself is not changed.
"""
import importlib
import types

import torch

from cmid_mm.utils.checkpoint import allow_mmengine_checkpoint_types, weights_only_load

# the mmengine module that calls torch.load / load_url on checkpoints
PATCHED_MODULES = ('mmengine.runner.checkpoint', )


class _WeightsOnlyTorch(types.ModuleType):
    """``torch`` with ``load`` replaced by :func:`weights_only_load`."""

    def __init__(self) -> None:
        super().__init__('torch', torch.__doc__)

    def __getattr__(self, name: str):
        return getattr(torch, name)

    @staticmethod
    def load(f, map_location=None, *args, **kwargs):
        """``torch.load`` that always uses ``weights_only=True``."""
        if args:  # torch.load(f, map_location, pickle_module, ...): no custom unpicklers
            raise TypeError('torch.load called with positional pickle arguments; '
                            'only weights_only=True loading is allowed')
        return weights_only_load(f, map_location=map_location, **kwargs)


_PROXY = _WeightsOnlyTorch()


def weights_only_load_url(url: str, model_dir: str | None = None, map_location=None,
                          **kwargs):
    """mmengine's ``load_url`` (torch.hub's ``load_state_dict_from_url``), weights_only=True."""
    kwargs['weights_only'] = True
    allow_mmengine_checkpoint_types()
    try:
        return torch.hub.load_state_dict_from_url(url, model_dir=model_dir,
                                                  map_location=map_location, **kwargs)
    except Exception as e:
        if isinstance(e, OSError):  # network / download problems keep their own type
            raise
        raise ValueError(f'cannot load checkpoint {url}: {type(e).__name__}: '
                         f'{str(e).splitlines()[0] if str(e) else ""} -- checkpoints are loaded '
                         'with weights_only=True') from e


def enforce_weights_only_loading() -> None:
    """Route mmengine's checkpoint ``torch.load`` calls through ``weights_only=True``.

    Idempotent; raises if a module's ``torch`` was replaced by something else.
    """
    for name in PATCHED_MODULES:
        module = importlib.import_module(name)
        for attr, safe in (('torch', _PROXY), ('load_url', weights_only_load_url)):
            current = getattr(module, attr, None)
            if current is safe:
                continue
            if current is None or getattr(current, '__module__', '').startswith('cmid_mm'):
                raise RuntimeError(f'{name}.{attr} is {current!r}: cannot enforce '
                                   'weights_only=True checkpoint loading')
            setattr(module, attr, safe)


def weights_only_loading_enforced() -> bool:
    """Whether every module in :data:`PATCHED_MODULES` uses the weights_only ``torch``."""
    modules = [importlib.import_module(n) for n in PATCHED_MODULES]
    return all(m.torch is _PROXY and m.load_url is weights_only_load_url for m in modules)
