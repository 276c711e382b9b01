"""kNN top-1 on a labelled set during self-supervised pretraining."""
import torch
from mmengine.dist import broadcast_object_list, get_rank
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmpretrain.registry import DATASETS, HOOKS

from ...evaluation import extract_pooled_features, knn_accuracy


@HOOKS.register_module()
class KNNMonitorHook(Hook):
    """Log weighted-kNN top-1 (k=20, T=0.07, as the CMID reference) every N epochs.

    Features of ``train_dataset`` (the memory bank) and ``val_dataset`` are the
    pooled last-stage maps of the student backbone (``model.extract_feat``).
    Rank 0 computes, the result is broadcast, and it is logged as
    ``knn/top1`` (in the log line and the scalar backends).

    Args:
        train_dataset (dict): Labelled dataset config for the memory bank.
        val_dataset (dict): Labelled dataset config to score.
        interval (int): Epochs between evaluations. Defaults to 1.
        k (int): Neighbours. Defaults to 20.
        temperature (float): Vote temperature. Defaults to 0.07.
        batch_size (int): Feature-extraction batch size. Defaults to 64.
    """

    priority = 'LOW'

    def __init__(self, train_dataset: dict, val_dataset: dict, interval: int = 1, k: int = 20,
                 temperature: float = 0.07, batch_size: int = 64) -> None:
        self.train_cfg = train_dataset
        self.val_cfg = val_dataset
        self.interval = interval
        self.k = k
        self.temperature = temperature
        self.batch_size = batch_size
        self._datasets = None

    def evaluate(self, model: torch.nn.Module) -> float:
        """kNN top-1 (%) of ``model``'s features."""
        if self._datasets is None:
            self._datasets = DATASETS.build(self.train_cfg), DATASETS.build(self.val_cfg)
        train_set, val_set = self._datasets
        num_classes = len(train_set.metainfo['classes'])
        train_f, train_l = extract_pooled_features(model, train_set, self.batch_size)
        val_f, val_l = extract_pooled_features(model, val_set, self.batch_size)
        return knn_accuracy(train_f, train_l, val_f, val_l, num_classes, self.k,
                            self.temperature)

    def after_train_epoch(self, runner) -> None:
        if not self.every_n_epochs(runner, self.interval) and not self.is_last_train_epoch(runner):
            return
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        result = [self.evaluate(model) if get_rank() == 0 else None]
        broadcast_object_list(result)
        runner.message_hub.update_scalar('train/knn_top1', result[0])
        runner.logger.info(f'Epoch {runner.epoch}: kNN (k={self.k}, T={self.temperature}) '
                           f'top-1 = {result[0]:.2f}')
