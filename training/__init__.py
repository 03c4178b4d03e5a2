"""SD-Net training and evaluation, streamed from the shards (README: train, evaluate)."""
