# Normalisation statistics of the CMID reference (MillionAID / Potsdam), on the 0..255 scale
# (reference: mean [0.33797, 0.3605, 0.3348], std [0.1359, 0.1352, 0.1407] on 0..1).
rs_mean = [86.182, 91.928, 85.374]
rs_std = [34.655, 34.476, 35.879]
