"""Extract pooled backbone features of a labelled dataset."""
import torch
from mmengine.dataset import default_collate
from torch.utils.data import DataLoader


@torch.no_grad()
def extract_pooled_features(model: torch.nn.Module, dataset, batch_size: int = 64,
                            num_workers: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Global-average-pooled last-stage features and labels of a dataset.

    Args:
        model: An mmpretrain model with ``data_preprocessor`` and
            ``extract_feat`` (CMID, MoCo, ImageClassifier, ...).
        dataset: A built dataset whose pipeline ends with ``PackInputs``.

    Returns:
        tuple[Tensor, Tensor]: (N, C) features and (N,) labels.
    """
    was_training = model.training
    model.eval()
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=num_workers,
                        collate_fn=default_collate)
    feats, labels = [], []
    for batch in loader:
        data = model.data_preprocessor(batch, training=False)
        out = model.extract_feat(data['inputs'])
        out = out[-1] if isinstance(out, (tuple, list)) else out
        feats.append(out.mean(dim=(2, 3)) if out.dim() == 4 else out)
        labels.append(torch.cat([ds.gt_label for ds in data['data_samples']]))
    model.train(was_training)
    return torch.cat(feats).float().cpu(), torch.cat(labels).cpu()
