# What every ssl_compare method shares with CMID: the unlabelled real tiles that
# tools/data/build_rs_datasets.py builds (RGB PNGs, read with LoadRSImage) and the RS
# normalisation. The method configs take mmpretrain's recipe and replace its dataset with
#     dict(_delete_=True, **_base_.rs_tiles, pipeline=train_pipeline)
# and its preprocessor statistics with _base_.rs_mean / _base_.rs_std.
_base_ = '../../../_base_/rs_norm.py'

rs_tiles = dict(type='CustomDataset', data_root='data/rs/pretrain/rgb', data_prefix='',
                with_label=False)
