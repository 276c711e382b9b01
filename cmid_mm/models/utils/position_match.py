"""Nearest-location matching between two views (CMID local branch)."""
import torch


def position_match(query_grid: torch.Tensor,
                   key_grid: torch.Tensor,
                   query_feats: torch.Tensor,
                   key_feats: torch.Tensor,
                   num_matches: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Pair each query position with its nearest key position.

    For every query position, the key position whose cell centre (in
    original-image pixels) is nearest by Euclidean distance is found
    (``torch.cdist``); the ``num_matches`` query positions with the smallest
    such distances are kept, in order of query position index, as the
    reference's ``position_match`` does.

    Args:
        query_grid (Tensor): Cell centres of the query view (B, L, 2).
        key_grid (Tensor): Cell centres of the key view (B, L', 2).
        query_feats (Tensor): Query features (B, L, C).
        key_feats (Tensor): Key features (B, L', C).
        num_matches (int): Pairs kept per image, ``<= L``.

    Returns:
        tuple[Tensor, Tensor]: Matched query and key features, each (B, K, C).
    """
    B, L, _ = query_feats.shape
    if query_grid.shape[:2] != (B, L) or key_grid.shape[:2] != key_feats.shape[:2]:
        raise ValueError(f'grids {tuple(query_grid.shape)}/{tuple(key_grid.shape)} do not match '
                         f'features {tuple(query_feats.shape)}/{tuple(key_feats.shape)}')
    if not 0 < num_matches <= L:
        raise ValueError(f'num_matches must be in [1, {L}], got {num_matches}')
    dist = torch.cdist(query_grid.float(), key_grid.float())  # (B, L, L')
    nearest_dist, nearest_idx = dist.min(dim=2)  # (B, L)
    # stable sort keeps ties in position order, then restore position order
    keep = nearest_dist.argsort(dim=1, stable=True)[:, :num_matches].sort(dim=1).values
    key_idx = nearest_idx.gather(1, keep)  # (B, K)
    C = query_feats.shape[-1]
    q = query_feats.gather(1, keep.unsqueeze(-1).expand(-1, -1, C))
    k = key_feats.gather(1, key_idx.unsqueeze(-1).expand(-1, -1, key_feats.shape[-1]))
    return q, k
