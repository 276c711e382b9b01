"""What the data workers of a CMID config cost per image, and what the batched
photometric ops cost on the training device.

Runs the config's ``train_pipeline`` (``LoadRSImage`` -> ``Resize`` -> ``CMIDMultiView``
-> ``PackInputs``) in this process on ``--images`` of its training images, one OpenCV and
one torch thread, as one dataloader worker does, and reports the CPU time (``process_time``)
of each step per image, the worker bytes of one packed sample, and how many workers keep
a GPU fed at ``--batch-size`` for each ``--step-seconds`` (model time of one step):
``ceil(ms per image x batch / 1000 / step seconds)``. With photometric ops on the device
(``model.data_preprocessor.view_batch_augments``), it also times them on a batch of
``--batch-size`` on ``--device`` (per image; CPU time when the device is the CPU).

``--views worker|device`` measures the config with its ops moved there
(:func:`cmid_mm.utils.place_photometric`): the old and the new path of the same recipe.

Example (docs/benchmarks.md, "Multispectral views on the device")::

    for v in worker device; do
      python tools/analysis_tools/pipeline_cost.py \\
          configs/cmid/cmid_resnet50_4xb64-adan-200e_s2-13band.py --views $v
    done
"""
from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    from mmengine.config import DictAction
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('config')
    p.add_argument('--views', choices=['worker', 'device'], help='move the photometric ops '
                   'to the workers or the device first (default: as the config has them)')
    p.add_argument('--images', type=int, default=32, help='images to time (default 32)')
    p.add_argument('--repeats', type=int, default=3, help='passes over the images; the '
                   'median pass is reported (default 3)')
    p.add_argument('--batch-size', type=int, default=64)
    p.add_argument('--step-seconds', type=float, nargs='+', default=[0.17, 0.19],
                   help='model seconds of one training step (default: the measured H200 '
                   'ResNet-50 steps, 0.17 RGB / 0.19 13-band)')
    p.add_argument('--device', default='cpu', help='where the batched ops are timed')
    p.add_argument('--data-root', help='training images (default: the config\'s, or the built '
                   'pretrain tiles of its band count when that folder does not exist)')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--json', help='also write the result here')
    p.add_argument('--cfg-options', nargs='+', action=DictAction, default={})
    return p.parse_args(argv)


def time_pipeline(pipeline: list[dict], files: list[Path], repeats: int,
                  seed: int = 0) -> dict:
    """CPU ms per image of each pipeline step (median over ``repeats`` passes)."""
    from mmpretrain.registry import TRANSFORMS
    steps = [TRANSFORMS.build(dict(t)) for t in pipeline]
    names = [t['type'] for t in pipeline]
    passes = []
    sample = None
    for r in range(repeats):
        np.random.seed(seed + r)
        cost = np.zeros(len(steps))
        for f in files:
            results = dict(img_path=str(f))
            for i, step in enumerate(steps):
                t0 = time.process_time()
                results = step(results)
                cost[i] += time.process_time() - t0
            sample = results
        passes.append(cost * 1000 / len(files))
    total = [p.sum() for p in passes]
    best = passes[int(np.argsort(total)[len(total) // 2])]
    nbytes = sum(v.numel() * v.element_size() for v in sample['inputs'])
    return dict(steps=dict(zip(names, best.tolist())), ms_per_image=float(best.sum()),
                ms_per_image_passes=[float(t) for t in total],
                sample_bytes=int(nbytes), dtype=str(sample['inputs'][0].dtype))


def time_batched_ops(cfg, shape: tuple[int, ...], device: str, repeats: int) -> dict | None:
    """ms per image of the data preprocessor's batched photometric ops on one batch."""
    import torch
    from mmpretrain.registry import MODELS
    pre_cfg = cfg.model.data_preprocessor.to_dict()
    if not any(len(v) for v in pre_cfg.get('view_batch_augments') or []):
        return None
    pre = MODELS.build(pre_cfg).to(device)
    dtype = torch.float32
    x = torch.rand(shape, device=device)
    if pre.uint16_scale is None and shape[1] == 3:
        x, dtype = x * 255, torch.uint8
    times = []
    for aug in pre.view_batch_augments:
        if not len(aug.ops):
            continue
        for _ in range(repeats + 1):
            if device.startswith('cuda'):
                torch.cuda.synchronize()
            t0, c0 = time.perf_counter(), time.process_time()
            aug(x, dtype)
            if device.startswith('cuda'):
                torch.cuda.synchronize()
            times.append((time.perf_counter() - t0, time.process_time() - c0))
    times = times[1:]  # the first call warms up
    wall = float(np.median([t for t, _ in times]))
    cpu = float(np.median([c for _, c in times]))
    return dict(device=device, batch=list(shape), ms_per_image=1000 * wall / shape[0],
                cpu_ms_per_image=1000 * cpu / shape[0])


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    import cv2
    import torch
    from mmengine.config import Config

    import cmid_mm  # noqa: F401  (registers the transforms and models)
    from cmid_mm.utils import photometric_placement, place_photometric
    from cmid_mm.utils.train_files import training_files
    cv2.setNumThreads(0)  # as mmengine's worker setting opencv_num_threads=0
    torch.set_num_threads(1)
    cfg = Config.fromfile(args.config)
    cfg.merge_from_dict(args.cfg_options)
    if args.views:
        place_photometric(cfg, args.views)
    files = training_files(cfg, args.data_root)
    files = (files * math.ceil(args.images / len(files)))[:args.images]
    pipeline = [dict(t) for t in cfg.train_dataloader.dataset.pipeline]
    result = dict(config=args.config, views=photometric_placement(cfg), images=len(files),
                  worker=time_pipeline(pipeline, files, args.repeats, args.seed))
    views = next(t for t in pipeline if t['type'] == 'CMIDMultiView')
    bands = cfg.model.backbone.get('in_channels', 3)
    size = views.get('crop_size', 224)
    result['device_ops'] = time_batched_ops(cfg, (args.batch_size, bands, size, size),
                                            args.device, args.repeats)
    w = result['worker']['ms_per_image']
    result['workers_per_gpu'] = {
        str(s): math.ceil(w * args.batch_size / 1000 / s) for s in args.step_seconds}
    steps = ', '.join(f'{k} {v:.2f}' for k, v in result['worker']['steps'].items())
    print(f'{args.config} (photometric ops: {result["views"]}): {w:.2f} CPU ms per image in '
          f'a worker ({steps}); a packed sample is {result["worker"]["sample_bytes"] / 1024:.0f}'
          f' KiB of {result["worker"]["dtype"]}')
    for s, n in result['workers_per_gpu'].items():
        print(f'  batch {args.batch_size}, {s} s model step: {n} worker(s) per GPU')
    if result['device_ops']:
        d = result['device_ops']
        print(f'  batched photometric ops on {d["device"]}: {d["ms_per_image"]:.2f} ms per '
              f'image (batch {d["batch"]})')
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return result


if __name__ == '__main__':
    main()
