"""Raw PAD datasets to protocol-aligned WebDataset shards: index, shard, verify, report, demo (docs/stages.md)."""
