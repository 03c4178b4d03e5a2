"""Killing a Dask worker while it writes a shard: the shard stage runs in a thread while this process watches
for a writer's temporary file (its name ends with the writer's pid) and SIGKILLs that writer."""
from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

from pipeline.shard import StageConfig, StageSummary, run


def run_killing_a_writer(config: StageConfig, folder: Path, pattern: str) -> StageSummary:
    """The summary of ``run(config)``, with the first worker seen writing a file matching ``pattern`` under
    ``folder`` killed mid-write."""
    outcome: dict = {}
    runner = threading.Thread(target=lambda: outcome.update(summary=run(config)))
    runner.start()
    killed = None
    while runner.is_alive() and killed is None:
        for partial in folder.glob(pattern):
            killed = partial.name
            os.kill(int(partial.name.rsplit("-", 1)[1]), signal.SIGKILL)
            assert partial.exists(), "the worker finished before it was killed"
            break
        time.sleep(0.001)
    runner.join(timeout=300)
    assert killed is not None, "no shard was caught being written"
    return outcome["summary"]
