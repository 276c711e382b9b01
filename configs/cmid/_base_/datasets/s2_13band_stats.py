# Per-band normalisation statistics of 13-band Sentinel-2 L1C tiles (B01..B12 with B8A,
# cmid_mm.rsdata.sources.S2_BANDS order), on the scale LoadRSImage(uint16_scale=10000)
# gives (reflectance). Computed, not typed, by
#   python tools/analysis_tools/band_stats.py data/rs/pretrain/msi --uint16-scale 10000
# (64 files, 1048576 pixels, 13 bands: the tiles of tools/data/build_rs_datasets.py;
# tests/test_models/test_multispectral.py recomputes them). For another corpus, run the
# tool on it and replace these lists with its output.
num_bands = 13
band_names = ['B01', 'B02', 'B03', 'B04', 'B05', 'B06', 'B07', 'B08', 'B8A', 'B09', 'B10',
              'B11', 'B12']
band_mean = [0.146373, 0.118932, 0.0946148, 0.0721329, 0.0788342, 0.094493, 0.102203,
             0.0985409, 0.10423, 0.044852, 0.00110056, 0.067177, 0.0407514]
band_std = [0.0112748, 0.016449, 0.0190178, 0.0239256, 0.0320646, 0.0780661, 0.0935941,
            0.0980962, 0.108198, 0.0464526, 0.000326131, 0.0830807, 0.0532959]
