from .bn_protocol import bn_layers, recalibrate_bn, recalibrate_bn_on_tiles
from .color_baseline import color_histogram_features, extract_color_features
from .dense_probe import (
    dense_probe_scores,
    evaluate_dense,
    evaluate_dense_color,
    evaluate_dense_protocols,
    evaluate_dense_with_pixels,
    extract_dense_features,
    image_suffix,
    load_seg_split,
    segmentation_scores,
)
from .features import extract_pooled_features
from .frozen import build_eval_sets, frozen_feature_scores, image_loading
from .frozen_model import backbone_weights, build_frozen_model
from .knn import knn_accuracy, knn_classify, linear_probe_accuracy

__all__ = ['knn_classify', 'knn_accuracy', 'linear_probe_accuracy', 'extract_pooled_features',
           'build_eval_sets', 'frozen_feature_scores', 'image_loading', 'image_suffix',
           'bn_layers', 'recalibrate_bn', 'recalibrate_bn_on_tiles',
           'color_histogram_features', 'extract_color_features',
           'dense_probe_scores', 'evaluate_dense', 'evaluate_dense_color',
           'evaluate_dense_protocols', 'evaluate_dense_with_pixels',
           'extract_dense_features', 'load_seg_split', 'segmentation_scores',
           'backbone_weights', 'build_frozen_model']
