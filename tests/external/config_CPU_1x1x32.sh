## The training recipe of tests/external/mllog_player.py, in the style of NVIDIA's config_<system>.sh files:
## sourced by their run scripts, read line by line by the player.
export BATCHSIZE=32
export LR=0.05
export MOMENTUM=0.9
export WEIGHT_DECAY=0.0001
export HIDDEN=64
