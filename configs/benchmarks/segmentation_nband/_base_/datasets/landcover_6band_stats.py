# Per-band normalisation statistics of the 6-band Landsat 7 land-cover tiles (bands 1, 2,
# 3, 4, 5, 7: cmid_mm.rsdata.nband.L7_NBAND_BANDS; float32 as stored, no-data -99999
# filled by the configs' rule LoadRSImage(nodata='mean')), over the train split only.
# Computed, not typed, by the command on the next line (data/rs = the root of
# tools/data/build_rs_datasets.py --only landcover_nband);
# tests/test_downstream/test_nband_segmentation.py recomputes them.
# python tools/analysis_tools/band_stats.py data/rs/landcover_nband/img_dir/train --nodata mean
# (28 files, 114688 pixels, 6 bands)
band_mean = [79.2735, 65.184, 64.6784, 69.4211, 90.0547, 57.8888]
band_std = [13.6259, 15.4365, 22.3415, 14.9388, 24.8647, 20.9986]
num_bands = len(band_mean)
