# The tiny CPU ViT CMID with the CLS token as the global branch's input (the projector and the
# EMA teacher's projector read the final CLS token instead of the pooled patch map): the
# other side of the "CLS token or pooled map" measurement in docs/benchmarks.md.
_base_ = ['cmid_vit-tiny-p16_1xb32-adan-20e_s2-tiles-128.py']
model = dict(backbone=dict(global_feature='cls'))
