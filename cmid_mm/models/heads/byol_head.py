"""Cross-view BYOL prediction loss (CMID global branch, BYOL variant)."""
from collections.abc import Sequence

import torch
from mmpretrain.models.heads import LatentPredictHead
from mmpretrain.registry import MODELS


@MODELS.register_module()
class CMIDBYOLHead(LatentPredictHead):
    """Symmetric BYOL loss between two views.

    mmpretrain's ``LatentPredictHead`` (predictor + similarity loss) applied
    to both view orders, as the reference's ``BYOLBased``::

        loss = (l(pred(q_A), k_B) + l(pred(q_B), k_A)) / 2

    with ``l = 2 - 2 cos`` for the default loss. It keeps no state, so
    :meth:`commit` does nothing; it exists so that the CMID algorithm drives
    every global head the same way.

    Args:
        predictor (dict): Predictor neck, e.g. ``NonLinearNeck``.
        loss (dict): Similarity loss. Defaults to ``CosineSimilarityLoss``
            with ``shift_factor=2, scale_factor=2`` (BYOL's ``2 - 2 cos``).
    """

    def __init__(self,
                 predictor: dict,
                 loss: dict = dict(type='CosineSimilarityLoss', shift_factor=2.0,
                                   scale_factor=2.0),
                 init_cfg: dict | None = None) -> None:
        super().__init__(loss=loss, predictor=predictor, init_cfg=init_cfg)

    def cross_view_loss(self, q: Sequence[torch.Tensor],
                        k: Sequence[torch.Tensor]) -> torch.Tensor:
        """Predict each view's teacher projection from the other view's student one.

        Args:
            q (Sequence[Tensor]): Student projections of views (A, B), each (B, D).
            k (Sequence[Tensor]): Teacher projections of views (A, B), each (B, D).

        Returns:
            Tensor: Scalar loss.
        """
        return (self.loss(q[0], k[1]) + self.loss(q[1], k[0])) / 2

    def commit(self, k: Sequence[torch.Tensor]) -> None:
        """Nothing to update (BYOL has no queue)."""
