# UC Merced Land Use: 21 classes x 100 images of 256 x 256 px; the paper splits 8/2.
# Layout: data/ucmerced/{train,val}/<class>/<image>, split once and kept fixed.
# (The defaults of rs_scene_bs64_224.py are UC Merced's.)
_base_ = './rs_scene_bs64_224.py'
