# Multispectral CMID, ResNet-50 student, 13-band Sentinel-2 GeoTIFFs under
# data/s2_13band/ (any sub-folders), 200 epochs at 4 GPUs x 64: the MillionAID recipe with
# 13 input bands, per-band statistics (_base_/datasets/s2_13band_stats.py; recompute them
# on your corpus with tools/analysis_tools/band_stats.py) and a 13-band MIM decoder.
_base_ = ['_base_/models/cmid_resnet50.py', '_base_/datasets/s2_13band_pretrain_224_device-views.py',
          '_base_/schedules/adan_200e.py', '_base_/default_runtime.py']
model = dict(
    # uint16 DN from the workers -> reflectance on the device, then the strong view's
    # photometric ops on the batch (s2_13band_pretrain_224.py is the per-image path)
    data_preprocessor=dict(mean=_base_.band_mean, std=_base_.band_std, uint16_scale=10000,
                           view_batch_augments=[_base_.view_a, _base_.view_b]),
    backbone=dict(in_channels=_base_.num_bands),
    neck=dict(out_channels=_base_.num_bands),
    head=dict(band_names=_base_.band_names))
