from .features import extract_pooled_features
from .knn import knn_accuracy, knn_classify, linear_probe_accuracy

__all__ = ['knn_classify', 'knn_accuracy', 'linear_probe_accuracy', 'extract_pooled_features']
