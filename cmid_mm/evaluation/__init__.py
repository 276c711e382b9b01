from .features import extract_pooled_features
from .frozen import build_eval_sets, frozen_feature_scores
from .knn import knn_accuracy, knn_classify, linear_probe_accuracy

__all__ = ['knn_classify', 'knn_accuracy', 'linear_probe_accuracy', 'extract_pooled_features',
           'build_eval_sets', 'frozen_feature_scores']
