"""The two CMID views of an image, with their location grids and block masks."""
import mmcv
import numpy as np
from mmcv.transforms import BaseTransform, Compose
from mmpretrain.datasets.transforms import RandomResizedCrop
from mmpretrain.registry import TRANSFORMS


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
            ``crop_size // 32``.
        interpolation (str): Resize interpolation. Defaults to 'bicubic'.
        mask_generator (dict): Block-mask transform config.
    """

    def __init__(self,
                 view_pipelines: list[list[dict]],
                 crop_size: int = 224,
                 crop_ratio_range: tuple[float, float] = (0.3, 1.0),
                 aspect_ratio_range: tuple[float, float] = (3. / 4., 4. / 3.),
                 flip_prob: float = 0.5,
                 grid_size: int | None = None,
                 interpolation: str = 'bicubic',
                 mask_generator: dict | None = None) -> None:
        if len(view_pipelines) != 2:
            raise ValueError(f'CMID needs exactly 2 view pipelines, got {len(view_pipelines)}')
        self.view_pipelines = [Compose([TRANSFORMS.build(t) for t in p]) for p in view_pipelines]
        self.crop_size = crop_size
        self.crop = RandomResizedCrop(
            scale=crop_size, crop_ratio_range=crop_ratio_range,
            aspect_ratio_range=aspect_ratio_range, interpolation=interpolation)
        self.flip_prob = flip_prob
        self.grid_size = grid_size or crop_size // 32
        self.interpolation = interpolation
        mask_generator = mask_generator or dict(
            type='SimMIMMaskGenerator', input_size=crop_size, mask_patch_size=32,
            model_patch_size=4, mask_ratio=0.6)
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
