"""The two CMID views of an image, with their location grids and block masks."""
import inspect

import mmcv
import numpy as np
from mmcv.transforms import BaseTransform, Compose
from mmpretrain.datasets.transforms import RandomResizedCrop
from mmpretrain.registry import TRANSFORMS

from .checks import check_number, check_prob, check_range_pair

OUTPUT_STRIDE = 32  # default: ResNet / Swin students; a ViT's is its patch size (out_stride)
INTERPOLATIONS = ('nearest', 'bilinear', 'bicubic', 'area', 'lanczos')


def location_grid(top: float, left: float, height: float, width: float, flip: bool,
                  grid_size: int) -> np.ndarray:
    """Centres of a ``grid_size`` x ``grid_size`` grid laid over a crop box.

    ``centre(k, l) = (top + height / N * (k + 0.5), left + width / N * (l + 0.5))``
    in pixels of the image the crop was taken from; a horizontally flipped
    view mirrors its columns (``l <-> N - 1 - l``), so that cell (k, l) of the
    flipped view's feature map is paired with the right place.

    Note:
        The reference passes albumentations' *fractional* crop start into
        this formula, so its grids ignore the crop offset. We use the true
        pixel offset on purpose (see docs/architecture.md).

    Args:
        top, left, height, width (float): Crop box in pixels.
        flip (bool): Whether the view was flipped horizontally after cropping.
        grid_size (int): N, the side of the backbone's last feature map.

    Returns:
        np.ndarray: (N, N, 2) float32 array of (y, x) centres.
    """
    steps = np.arange(grid_size, dtype=np.float64) + 0.5
    ys = top + height / grid_size * steps
    xs = left + width / grid_size * steps
    if flip:
        xs = xs[::-1]
    grid = np.stack(np.meshgrid(ys, xs, indexing='ij'), axis=-1)
    return grid.astype(np.float32)


@TRANSFORMS.register_module()
class CMIDMultiView(BaseTransform):
    """Make CMID's two views: crop box -> location grid, photometry, block mask.

    Each view gets its own ``RandomResizedCrop`` (mmpretrain's parameter
    sampler) and horizontal flip; the crop box becomes a location grid
    (:func:`location_grid`); then the view's own pipeline (photometric ops)
    runs, and a block mask is drawn by ``mask_generator`` (mmpretrain's
    ``SimMIMMaskGenerator`` by default). mmpretrain's ``MultiView`` keeps only
    ``img``, which is why this wrapper exists.

    **Added / modified keys:** ``img`` (list of 2 views), ``grid``
    (2, N*N, 2) float32, ``mask`` (2, h, w) uint8, ``img_shape``.

    Args:
        view_pipelines (list[list[dict]]): One pipeline per view, run after
            crop and flip (``img`` weak, ``view`` strong in CMID).
        crop_size (int): Output size of each view. Defaults to 224.
        crop_ratio_range (tuple): Area range of the crop. Defaults to (0.3, 1.0).
        aspect_ratio_range (tuple): Aspect range. Defaults to (3/4, 4/3).
        flip_prob (float): Horizontal flip probability. Defaults to 0.5.
        grid_size (int): Side of the location grid. Defaults to
            ``crop_size // output_stride``.
        output_stride (int): The student's ``backbone.out_stride`` (32 for
            ResNet / Swin, the patch size for :class:`CMIDViT`). Defaults to 32.
        interpolation (str): Resize interpolation. Defaults to 'bicubic'.
        mask_generator (dict): Block-mask transform config; its
            ``input_size`` must equal ``crop_size``.

    Every argument is checked when the transform is built; a bad value raises
    ``ValueError`` naming the key and the allowed range: ``crop_ratio_range``
    in (0, 1], ``aspect_ratio_range`` > 0, ``flip_prob`` in [0, 1],
    ``crop_size`` a multiple of ``output_stride`` (unless ``grid_size`` is
    given) and of the mask's ``mask_patch_size``, ``mask_patch_size`` a
    multiple of ``model_patch_size``, ``output_stride`` a multiple of
    ``model_patch_size`` (for a ViT both are the patch size), ``mask_ratio`` in
    (0, 1).
    """

    def __init__(self,
                 view_pipelines: list[list[dict]],
                 crop_size: int = 224,
                 crop_ratio_range: tuple[float, float] = (0.3, 1.0),
                 aspect_ratio_range: tuple[float, float] = (3. / 4., 4. / 3.),
                 flip_prob: float = 0.5,
                 grid_size: int | None = None,
                 interpolation: str = 'bicubic',
                 mask_generator: dict | None = None,
                 output_stride: int = OUTPUT_STRIDE) -> None:
        owner = 'CMIDMultiView'
        if len(view_pipelines) != 2:
            raise ValueError(f'CMID needs exactly 2 view pipelines, got {len(view_pipelines)}')
        if isinstance(crop_size, bool) or not isinstance(crop_size, (int, np.integer)) \
                or crop_size < 1:
            raise ValueError(f'{owner}: crop_size must be a positive integer, got {crop_size!r}')
        if isinstance(output_stride, bool) or not isinstance(output_stride, (int, np.integer)) \
                or output_stride < 1:
            raise ValueError(f'{owner}: output_stride must be a positive integer (the '
                             f'backbone.out_stride), got {output_stride!r}')
        if grid_size is None and crop_size % output_stride:
            raise ValueError(
                f'{owner}: crop_size must be a multiple of {output_stride} (output_stride, the '
                f'backbone output stride; the location grid has crop_size // {output_stride} '
                f'cells per side), got {crop_size}; or give grid_size explicitly')
        if grid_size is not None and (isinstance(grid_size, bool) or grid_size < 1):
            raise ValueError(f'{owner}: grid_size must be a positive integer, got {grid_size!r}')
        crop_ratio_range = check_range_pair(owner, 'crop_ratio_range', crop_ratio_range,
                                            0., 1., lo_open=True)
        aspect_ratio_range = check_range_pair(owner, 'aspect_ratio_range', aspect_ratio_range,
                                              0., lo_open=True)
        flip_prob = check_prob(owner, 'flip_prob', flip_prob)
        if interpolation not in INTERPOLATIONS:
            raise ValueError(f'{owner}: interpolation must be one of {INTERPOLATIONS}, '
                             f'got {interpolation!r}')
        mask_generator = mask_generator or dict(
            type='SimMIMMaskGenerator', input_size=crop_size, mask_patch_size=32,
            model_patch_size=4, mask_ratio=0.6)
        _check_mask_generator(mask_generator, crop_size, output_stride)
        self.view_pipelines = [Compose([TRANSFORMS.build(t) for t in p]) for p in view_pipelines]
        self.crop_size = crop_size
        self.crop = RandomResizedCrop(
            scale=crop_size, crop_ratio_range=crop_ratio_range,
            aspect_ratio_range=aspect_ratio_range, interpolation=interpolation)
        self.flip_prob = flip_prob
        self.grid_size = grid_size or crop_size // output_stride
        self.output_stride = output_stride
        self.interpolation = interpolation
        self.mask_generator = TRANSFORMS.build(mask_generator)

    def _one_view(self, img: np.ndarray, results: dict, pipeline: Compose) -> tuple:
        top, left, h, w = self.crop.rand_crop_params(img)
        view = mmcv.imresize(img[top:top + h, left:left + w], (self.crop_size, self.crop_size),
                             interpolation=self.interpolation)
        if view.ndim == 2:  # cv2 drops a single channel axis
            view = view[..., None]
        flip = bool(np.random.rand() < self.flip_prob)
        if flip:
            view = np.ascontiguousarray(view[:, ::-1])
        grid = location_grid(top, left, h, w, flip, self.grid_size).reshape(-1, 2)
        out = pipeline({**results, 'img': view, 'img_shape': view.shape[:2]})
        mask = self.mask_generator({})['mask'].astype(np.uint8)
        return out['img'], grid, mask

    def transform(self, results: dict) -> dict:
        img = results['img']
        views = [self._one_view(img, results, p) for p in self.view_pipelines]
        results['img'] = [v[0] for v in views]
        results['grid'] = np.stack([v[1] for v in views])  # (2, N*N, 2)
        results['mask'] = np.stack([v[2] for v in views])  # (2, h, w)
        results['img_shape'] = (self.crop_size, self.crop_size)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(crop={self.crop!r}, flip_prob={self.flip_prob}, '
                f'grid_size={self.grid_size}, view_pipelines={self.view_pipelines!r}, '
                f'mask_generator={self.mask_generator!r})')


def _check_mask_generator(cfg: dict, crop_size: int, output_stride: int = OUTPUT_STRIDE) -> None:
    """Check a block-mask generator config (SimMIMMaskGenerator-like) against the crop size."""
    owner = 'CMIDMultiView.mask_generator'
    kind = cfg.get('type')
    cls = TRANSFORMS.get(kind) if isinstance(kind, str) else kind
    if cls is None:
        raise ValueError(f'{owner}: type {kind!r} is not a registered transform')
    params = {k: p.default for k, p in inspect.signature(cls.__init__).parameters.items()
              if p.default is not inspect.Parameter.empty}
    params.update({k: v for k, v in cfg.items() if k != 'type'})
    if 'input_size' in params and params['input_size'] != crop_size:
        raise ValueError(f'{owner}: input_size must equal crop_size ({crop_size}) so that the '
                         f'mask covers the view, got {params["input_size"]!r}')
    if 'mask_ratio' in params:
        check_number(owner, 'mask_ratio', params['mask_ratio'], 0., 1., lo_open=True,
                     hi_open=True)
    patch = params.get('mask_patch_size')
    if patch is not None:
        check_number(owner, 'mask_patch_size', patch, 0., lo_open=True)
        if crop_size % patch:
            raise ValueError(f'{owner}: crop_size ({crop_size}) must be a multiple of '
                             f'mask_patch_size, got mask_patch_size={patch!r}')
        model_patch = params.get('model_patch_size')
        if model_patch is not None and (model_patch < 1 or patch % model_patch):
            raise ValueError(f'{owner}: mask_patch_size ({patch}) must be a multiple of '
                             f'model_patch_size, got model_patch_size={model_patch!r} (for a '
                             'ViT student model_patch_size is its patch size)')
        if model_patch is not None and output_stride % model_patch:
            raise ValueError(f'{owner}: model_patch_size ({model_patch}) must divide the '
                             f'CMIDMultiView output_stride ({output_stride}): masks are drawn at '
                             "the backbone's mask stride (4 for ResNet / Swin, the patch size "
                             'for a ViT)')
