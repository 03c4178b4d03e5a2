"""Run under torchrun by the tests: each rank writes the test-split keys it was given (from a folder or a bucket)."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from training.data import iterate_eval, split_shards
from training.distributed import setup, teardown

if __name__ == "__main__":
    manifests, shard_dir, out = sys.argv[1], sys.argv[2], Path(sys.argv[3])  # folders or URLs, and a local folder
    info = setup("cpu")
    shards = split_shards(manifests, "4_1", "test", shard_dir)
    keys = [k for batch in iterate_eval(shards, ["rgb"], 2, num_workers=1, world_size=info.world_size)
            for k in batch["key"]]
    (out / f"rank{os.environ['RANK']}.json").write_text(json.dumps(keys))
    teardown()
