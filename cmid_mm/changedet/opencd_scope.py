"""An ``opencd`` registry scope backed by our components, made only when open-cd is absent.

open-cd 1.x configs set ``default_scope='opencd'``. When the real open-cd
package (import name ``opencd``) is installed, it owns that scope: this module
then creates nothing, so open-cd's classes are built and none of ours shadows
them. When it is not installed, :func:`register_opencd_scope` adds, below every
registry of mmseg (``mmseg.registry``), a child registry with scope ``opencd``.
mmengine finds a scope by searching the registry tree, so an open-cd config
resolves its names through that child to its parent, mmseg's registry, where
``cmid_mm.changedet`` registers open-cd's public names (and mmseg's and
mmengine's own components stay reachable, as they are for open-cd).

A name that belongs to open-cd but that this package does not provide (e.g.
``Changer``) raises :class:`OpenCDComponentUnavailable` naming it and saying
that it needs the real open-cd, instead of mmengine's generic ``KeyError``.
"""
from __future__ import annotations

import importlib.util

import mmseg.registry as mmseg_registry
from mmengine.registry import Registry

OPENCD_SCOPE = 'opencd'
OPENCD_URL = 'https://github.com/likyoo/open-cd'

# open-cd 1.x names (models, transforms, datasets) that cmid_mm does not implement.
UNSUPPORTED: dict[str, str] = {
    # change detectors
    'IAEncoderDecoder': 'change detector with interaction layers (Changer)',
    'SiamEncoderMultiDecoder': 'semantic change detector (SCD)',
    'BAN': 'bi-temporal adapter network', 'TimeTravellingPixels': 'TTP (SAM-based)',
    'DistillSiamEncoderDecoder': 'knowledge distillation detector',
    'DistillDIEncoderDecoder': 'knowledge distillation detector',
    'MTKDSiamEncoderDecoder': 'multi-teacher distillation detector',
    # backbones
    'IA_ResNetV1c': 'interaction backbone (Changer)', 'IA_ResNeSt': 'interaction backbone',
    'IA_MixVisionTransformer': 'interaction backbone (Changer MiT)',
    'TinyCD': 'TinyCD backbone', 'TinyNet': 'TinyCD v2',
    'HANet': 'HANet backbone', 'IFN': 'IFNet backbone', 'CGNet': 'CGNet backbone',
    'LightCDNet': 'LightCDNet backbone', 'ViTSAM_Custom': 'SAM ViT backbone',
    'VisionTransformerTurner': 'ViT tuner backbone', 'SiamUnet_diff': 'old SiamUNet backbone',
    # heads and necks
    'Changer': 'Changer decode head', 'ChangerEx': 'Changer decode head',
    'STAHead': 'STANet head', 'TinyHead': 'TinyCD head', 'IdentityHead': 'identity head',
    'GeneralSCDHead': 'semantic change detection head', 'DS_FPNHead': 'LightCDNet head',
    'MultiHeadDecoder': 'semantic change detection head', 'BitemporalAdapterHead': 'BAN head',
    'ChangeStarHead': 'ChangeStar head', 'FarSegHead': 'FarSeg head', 'MLPSegHead': 'TTP head',
    'FarSegFPN': 'FarSeg neck', 'TinyFPN': 'LightCDNet neck', 'SimpleFPN': 'TTP neck',
    'SequentialNeck': 'TTP neck',
    # losses
    'BCLLoss': 'batch-balanced contrastive loss (STANet)', 'ChannelWiseDivergence': 'KD loss',
    # data
    'BANDON_Dataset': 'BANDON dataset', 'CLCD_Dataset': 'CLCD dataset',
    'Landsat_Dataset': 'Landsat SCD dataset', 'RSIPAC_CD_Dataset': 'RSIPAC dataset',
    'SECOND_Dataset': 'SECOND semantic change dataset', 'JL1_CD_Dataset': 'JL1 dataset',
    'MultiImgAlbu': 'albumentations transform', 'MultiImgAdjustGamma': 'gamma transform',
    'MultiImgCLAHE': 'CLAHE transform', 'MultiImgRandomCutOut': 'cutout transform',
    'MultiImgRGB2Gray': 'grey-scale transform', 'MultiImgAlbuCompose': 'albumentations',
}


class OpenCDComponentUnavailable(KeyError):
    """An open-cd name that cmid_mm does not provide was asked for; install open-cd."""

    def __str__(self) -> str:  # KeyError would print the message with quotes
        return str(self.args[0])


def opencd_installed() -> bool:
    """True when the real open-cd (import name ``opencd``) can be imported."""
    return importlib.util.find_spec('opencd') is not None


class OpenCDCompatRegistry(Registry):
    """Child of an mmseg registry, scope ``opencd``; explains open-cd names we lack."""

    def get(self, key: str):
        """As :meth:`mmengine.Registry.get`; an unsupported open-cd name raises."""
        scope, real_key = self.split_scope_key(key) if isinstance(key, str) else (None, key)
        if scope in (None, OPENCD_SCOPE) and real_key in UNSUPPORTED:
            raise OpenCDComponentUnavailable(
                f"'{real_key}' ({UNSUPPORTED[real_key]}) is an open-cd component that cmid_mm "
                f"does not provide: the open-cd config needs the real open-cd ({OPENCD_URL}, "
                "install it from source). cmid_mm's opencd scope covers BIT, FC-EF, "
                "FC-Siam-diff/conc, SNUNet and siamese mmseg models; see docs/changedet.md")
        return super().get(key)


def _mmseg_registries() -> list[Registry]:
    return [value for value in vars(mmseg_registry).values() if isinstance(value, Registry)]


def register_opencd_scope(force: bool = False) -> list[Registry]:
    """Add an ``opencd`` child to each mmseg registry unless open-cd is installed.

    Idempotent. ``force=True`` skips the installation check (tests only).
    Returns the child registries (empty when open-cd is installed).
    """
    if not force and opencd_installed():
        return []
    children = []
    for parent in _mmseg_registries():
        child = parent.children.get(OPENCD_SCOPE)
        if child is None:
            child = OpenCDCompatRegistry(parent.name, parent=parent, scope=OPENCD_SCOPE)
        children.append(child)
    return children


def unregister_opencd_scope() -> None:
    """Remove the children made by :func:`register_opencd_scope` (tests only)."""
    for parent in _mmseg_registries():
        child = parent.children.get(OPENCD_SCOPE)
        if isinstance(child, OpenCDCompatRegistry):
            parent.children.pop(OPENCD_SCOPE)
