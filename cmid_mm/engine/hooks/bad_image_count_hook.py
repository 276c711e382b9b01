"""Log how many bad images ``LoadRSImage(skip_bad_images=True)`` skipped in each epoch."""
from __future__ import annotations

import os
from pathlib import Path

import torch
from mmengine.dist import all_reduce, get_rank
from mmengine.hooks import Hook
from mmpretrain.registry import HOOKS

from cmid_mm.datasets.transforms.bad_image_record import BAD_IMAGE_DIR_ENV, read_bad_images


@HOOKS.register_module()
class BadImageCountHook(Hook):
    """Sum the images skipped by every dataloader worker of every rank, per epoch.

    Before training it points :data:`BAD_IMAGE_DIR_ENV` at
    ``<log_dir>/bad_images/rank<r>``, where every process that skips an image
    records it (:mod:`cmid_mm.datasets.transforms.bad_image_record`). At each
    epoch end it counts the new records of its rank, sums them over ranks
    (all-reduce) and

    - once the run has skipped any image, updates the message-hub scalars
      ``train/skipped_images`` (this epoch) and ``train/skipped_images_total``
      (whole run, kept across ``--resume`` through the checkpoint's message
      hub), which the logger then shows on every iteration line;
    - writes both, with the epoch, to the visualizer (``scalars.json``);
    - logs one line, with up to ``max_listed`` of the files this rank skipped.

    Args:
        max_listed: how many skipped file names to quote in the log line.
    """

    priority = 'NORMAL'

    def __init__(self, max_listed: int = 5) -> None:
        self.max_listed = max_listed
        self._folder: Path | None = None
        self._seen = 0
        self._total = 0
        self._saved_env: str | None = None

    def before_train(self, runner) -> None:
        self._folder = Path(runner.log_dir) / 'bad_images' / f'rank{get_rank()}'
        self._folder.mkdir(parents=True, exist_ok=True)
        self._seen = len(read_bad_images(self._folder))
        self._saved_env = os.environ.get(BAD_IMAGE_DIR_ENV)
        os.environ[BAD_IMAGE_DIR_ENV] = str(self._folder)
        hub = runner.message_hub
        self._total = (int(hub.get_scalar('train/skipped_images_total').current())
                       if 'train/skipped_images_total' in hub.log_scalars else 0)

    def after_train_epoch(self, runner) -> None:
        records = read_bad_images(self._folder)
        new = records[self._seen:]
        self._seen = len(records)
        count = torch.tensor([len(new)], dtype=torch.int64)
        all_reduce(count, op='sum')
        n = int(count.item())
        self._total += n
        if self._total:  # keep the iteration log lines of clean runs free of zeros
            runner.message_hub.update_scalar('train/skipped_images', n)
            runner.message_hub.update_scalar('train/skipped_images_total', self._total)
        runner.visualizer.add_scalars(
            {'epoch': runner.epoch + 1, 'skipped_images': n, 'skipped_images_total': self._total},
            step=runner.iter)
        listed = ', '.join(r['path'] for r in new[:self.max_listed])
        more = f' (rank {get_rank()}: {listed}{", ..." if len(new) > self.max_listed else ""})' \
            if new else ''
        runner.logger.info(f'Epoch({runner.epoch + 1}): skipped {n} bad image(s) in all '
                           f'dataloader workers and ranks, {self._total} in this run{more}; '
                           f'records in {self._folder.parent}')

    def after_train(self, runner) -> None:
        if self._saved_env is None:
            os.environ.pop(BAD_IMAGE_DIR_ENV, None)
        else:
            os.environ[BAD_IMAGE_DIR_ENV] = self._saved_env
