"""Frozen-feature evaluation: weighted kNN and a linear probe.

Shared by the kNN monitor hook, ``make demo`` and the SSL benchmark, so that
every method is scored by the same code.
"""
import torch
import torch.nn.functional as F


@torch.no_grad()
def knn_classify(train_feats: torch.Tensor, train_labels: torch.Tensor,
                 test_feats: torch.Tensor, num_classes: int, k: int = 20,
                 temperature: float = 0.07, chunk: int = 512) -> torch.Tensor:
    """Weighted kNN (Wu et al. 2018, as in DINO's ``eval_knn`` and CMID's monitor).

    Features are L2-normalised; the ``k`` most cosine-similar training
    samples vote with weight ``exp(sim / temperature)``.

    Args:
        train_feats (Tensor): (N, D) memory-bank features.
        train_labels (Tensor): (N,) int labels.
        test_feats (Tensor): (M, D) query features.
        num_classes (int): Number of classes.
        k (int): Neighbours. Defaults to 20 (clipped to N).
        temperature (float): Vote temperature. Defaults to 0.07.

    Returns:
        Tensor: (M,) predicted labels.
    """
    train = F.normalize(train_feats.float(), dim=1)
    test = F.normalize(test_feats.float(), dim=1)
    k = min(k, train.shape[0])
    preds = []
    for start in range(0, test.shape[0], chunk):
        sim = test[start:start + chunk] @ train.T  # (m, N)
        top_sim, top_idx = sim.topk(k, dim=1)
        votes = torch.zeros(sim.shape[0], num_classes, device=sim.device)
        votes.scatter_add_(1, train_labels[top_idx], (top_sim / temperature).exp())
        preds.append(votes.argmax(1))
    return torch.cat(preds)


def knn_accuracy(train_feats: torch.Tensor, train_labels: torch.Tensor, test_feats: torch.Tensor,
                 test_labels: torch.Tensor, num_classes: int, k: int = 20,
                 temperature: float = 0.07) -> float:
    """Top-1 accuracy (%) of :func:`knn_classify`."""
    pred = knn_classify(train_feats, train_labels, test_feats, num_classes, k, temperature)
    return (pred == test_labels).float().mean().item() * 100


def linear_probe_accuracy(train_feats: torch.Tensor, train_labels: torch.Tensor,
                          test_feats: torch.Tensor, test_labels: torch.Tensor, num_classes: int,
                          epochs: int = 200, lr: float = 0.1, weight_decay: float = 1e-4,
                          seed: int = 0) -> float:
    """Top-1 accuracy (%) of a linear classifier trained on frozen features.

    Features are standardised with the training statistics; the classifier is
    trained full-batch with SGD + momentum and a cosine schedule (deterministic
    for a given seed).
    """
    g = torch.Generator().manual_seed(seed)
    mean, std = train_feats.mean(0), train_feats.std(0) + 1e-6
    x_train, x_test = (train_feats - mean) / std, (test_feats - mean) / std
    clf = torch.nn.Linear(x_train.shape[1], num_classes)
    with torch.no_grad():
        clf.weight.copy_(torch.randn(clf.weight.shape, generator=g) * 0.01)
        clf.bias.zero_()
    opt = torch.optim.SGD(clf.parameters(), lr=lr, momentum=0.9, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs)
    for _ in range(epochs):
        opt.zero_grad()
        F.cross_entropy(clf(x_train), train_labels).backward()
        opt.step()
        sched.step()
    with torch.no_grad():
        return (clf(x_test).argmax(1) == test_labels).float().mean().item() * 100
