"""Cross-view MoCo v2 contrast with a queue of teacher keys (CMID global branch)."""
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from mmengine.dist import all_gather
from mmpretrain.models.heads import ContrastiveHead
from mmpretrain.registry import MODELS


@MODELS.register_module()
class CMIDMoCoHead(ContrastiveHead):
    """Symmetric MoCo v2 loss between two views, with a queue of negatives.

    mmpretrain's ``ContrastiveHead`` turns (positive, negative) similarities
    into ``CE([pos, neg] / temperature, 0)``; this head adds what MoCo keeps
    around it: the queue of past teacher keys and the cross-view pairing of
    CMID's reference (``mocov2plus_loss_func`` applied to both view orders).
    With student projections ``q_A, q_B`` and teacher keys ``k_A, k_B``
    (each (B, D), L2-normalised here)::

        loss = (CE(q_A . k_B, q_A . queue) + CE(q_B . k_A, q_B . queue)) / 2

    The queue starts **empty**: unwritten slots are masked out of the
    negatives (logit ``-inf``), so the first steps contrast only against real
    keys instead of random vectors (the reference starts from a random queue;
    see docs/architecture.md). :meth:`loss` changes no state;
    :meth:`commit` enqueues the keys of a step that was found finite (the
    keys of all ranks, view A then view B, at the write pointer, wrapping
    around). Neither needs a host-device synchronisation.

    Args:
        feat_dim (int): Key dimension D (the projector's output). Defaults to 256.
        queue_len (int): Number of queued negatives; at least the number of
            keys written per step (2 x batch x world size). Defaults to 65536.
        temperature (float): Softmax temperature. Defaults to 0.2.
        loss (dict): Classification loss. Defaults to ``CrossEntropyLoss``.
    """

    def __init__(self,
                 feat_dim: int = 256,
                 queue_len: int = 65536,
                 temperature: float = 0.2,
                 loss: dict = dict(type='CrossEntropyLoss'),
                 init_cfg: dict | None = None) -> None:
        if queue_len < 1:
            raise ValueError(f'model.global_head.queue_len must be >= 1 (and at least '
                             f'2 x batch x world size), got {queue_len}')
        if feat_dim < 1:
            raise ValueError(f'model.global_head.feat_dim must be >= 1, got {feat_dim}')
        if not temperature > 0:
            raise ValueError(f'model.global_head.temperature must be > 0, got {temperature}')
        super().__init__(loss=loss, temperature=temperature, init_cfg=init_cfg)
        self.feat_dim = feat_dim
        self.queue_len = queue_len
        self.register_buffer('queue', torch.zeros(feat_dim, queue_len))  # (D, L), 0 = empty
        self.register_buffer('queue_ptr', torch.zeros(1, dtype=torch.long))

    def cross_view_loss(self, q: Sequence[torch.Tensor],
                        k: Sequence[torch.Tensor]) -> torch.Tensor:
        """Symmetric contrast of each view's query with the other view's key.

        Args:
            q (Sequence[Tensor]): Student projections of views (A, B), each (B, D).
            k (Sequence[Tensor]): Teacher keys of views (A, B), each (B, D).

        Returns:
            Tensor: Scalar loss.
        """
        if q[0].shape[1] != self.feat_dim:
            raise ValueError(f'model.global_head.feat_dim is {self.feat_dim} but the projector '
                             f'outputs {q[0].shape[1]} channels')
        q = [F.normalize(x, dim=1) for x in q]
        k = [F.normalize(x.detach(), dim=1) for x in k]
        queue = self.queue.clone().detach()
        empty = queue.abs().sum(dim=0) == 0  # (L,) slots never written
        loss = 0.
        for qa, kb in ((q[0], k[1]), (q[1], k[0])):
            pos = (qa * kb).sum(dim=1, keepdim=True)  # (B, 1)
            neg = (qa @ queue.to(qa.dtype)).masked_fill(empty, float('-inf'))  # (B, L)
            loss = loss + self.loss(pos, neg)
        return loss / 2

    @torch.no_grad()
    def commit(self, k: Sequence[torch.Tensor]) -> None:
        """Enqueue the teacher keys of all ranks (call only after a finite step).

        Args:
            k (Sequence[Tensor]): Teacher keys of views (A, B), each (B, D).
        """
        keys = F.normalize(torch.cat(list(k)), dim=1)  # (2B, D)
        keys = torch.cat(all_gather(keys), dim=0)  # (world * 2B, D), rank order
        n = keys.shape[0]
        if n > self.queue_len:
            raise ValueError(f'model.global_head.queue_len={self.queue_len} is smaller than the '
                             f'{n} keys written per step (2 views x batch x world size): raise '
                             'queue_len or lower the batch size')
        idx = (torch.arange(n, device=keys.device) + self.queue_ptr) % self.queue_len
        self.queue[:, idx] = keys.T.to(self.queue.dtype)
        self.queue_ptr.add_(n).remainder_(self.queue_len)
