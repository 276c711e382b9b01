# Per-band normalisation statistics of the 10-band Landsat 8 cloud tiles (B1-B7, B9, B10,
# B11: cmid_mm.rsdata.nband.L8_NBAND_BANDS; uint16 DN as stored, read with
# LoadRSImage(to_float32=True)), over the train split only. Computed, not typed, by the
# command on the next line (data/rs = the root of tools/data/build_rs_datasets.py
# --only cloud_seg_nband); tests/test_downstream/test_nband_segmentation.py recomputes
# them. For other data, run the tool on it and replace these lists with its output.
# python tools/analysis_tools/band_stats.py data/rs/cloud_seg_nband/img_dir/train
# (54 files, 221184 pixels, 10 bands)
band_mean = [10507.5, 9762.55, 9131.45, 8596.77, 15227.1, 11587.2, 9240.58, 5773.63, 22449.2,
             19991.8]
band_std = [1520.93, 1610.48, 1679.73, 1812.75, 2566.98, 2474.52, 2224.74, 730.315, 2839.76,
            2751.75]
num_bands = len(band_mean)
