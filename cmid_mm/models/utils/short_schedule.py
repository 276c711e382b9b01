"""Queue length, EMA rate and temperature warm-up that scale with the length of a run."""
import math

REFERENCE_QUEUE_LEN = 65536
REFERENCE_EMA_RATE = 0.004  # 1 - teacher momentum 0.996


def cmid_short_schedule(num_images: int, batch_size: int, max_epochs: int,
                        world_size: int = 1) -> dict:
    """Model-config values of CMID for a run of ``max_epochs`` over ``num_images``.

    Rules (docs/architecture.md, "Short schedules"), with ``T`` the number of
    iterations (``drop_last``) and ``K = 2 x batch x world`` keys enqueued per
    iteration (both views):

    - ``queue_len``: the largest power of two <= keys per epoch / 4 (a key
      stays queued for at most a quarter epoch, so under 3 % of positives
      meet a stale key of their own image among the negatives), capped at the
      reference's 65536 and at least ``K`` (the queue must hold one step);
    - teacher EMA rate (mmengine ``momentum``, = 1 - teacher momentum):
      ``max(0.004, 6 / T)``, cosine to 0, so that after the run the teacher
      keeps ``~exp(-rate T / 2) <= 5 %`` of its random start; long runs get
      the reference's 0.004; runs under 12 iterations get the cap 0.5;
    - teacher-temperature warm-up: ``T / 4`` iterations (the reference's 50
      of 200 epochs).

    Args:
        num_images (int): Images in the training set.
        batch_size (int): Images per GPU per step.
        max_epochs (int): Training epochs.
        world_size (int): Number of processes. Defaults to 1.

    Returns:
        dict: ``global_head.queue_len``, ``teacher.momentum`` and
        ``local_loss.warmup_teacher_temp_iters`` as a nested model-config patch.
    """
    if min(num_images, batch_size, max_epochs, world_size) < 1:
        raise ValueError('num_images, batch_size, max_epochs and world_size must be >= 1, got '
                         f'{num_images}, {batch_size}, {max_epochs}, {world_size}')
    iters_per_epoch = num_images // (batch_size * world_size)
    if iters_per_epoch < 1:
        raise ValueError(f'{num_images} images make no full batch of {batch_size} x {world_size}')
    total_iters = iters_per_epoch * max_epochs
    keys_per_iter = 2 * batch_size * world_size
    quarter_epoch = keys_per_iter * iters_per_epoch / 4
    queue_len = 2 ** int(math.floor(math.log2(max(quarter_epoch, 1))))
    queue_len = max(min(queue_len, REFERENCE_QUEUE_LEN), keys_per_iter)
    # capped at 0.5 (the most a teacher update may take from the student, check_teacher)
    rate = min(0.5, max(REFERENCE_EMA_RATE, 6 / total_iters))
    return dict(global_head=dict(queue_len=queue_len),
                teacher=dict(momentum=round(rate, 6)),
                local_loss=dict(warmup_teacher_temp_epochs=None,
                                warmup_teacher_temp_iters=round(total_iters / 4)))
