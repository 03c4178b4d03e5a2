"""SD-Net training and evaluation, streamed from the shards (docs/stages.md: train, evaluate)."""
