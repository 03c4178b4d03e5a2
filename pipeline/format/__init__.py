"""The shard format, in one place: what every stage that writes or reads shards agrees on.

* :mod:`.members` — a sample's key and member names (``KEY.rgb.npy``, ``KEY.rgb_di.npy``, …,
  ``KEY.json``) and the digest of its payload;
* :mod:`.images` — how a crop is stored (npy, png, jpg) and read back, nothing ever unpickled;
* :mod:`.tars` — writing deterministic tars and reading them back, front to back, checked;
* :mod:`.splits` — ``splits.json``: each protocol split's shards, sample counts and modalities, and
  the protocols' aliases, which is all a training loader needs to know.

Used by the shard stage, verify, the report, training, the benchmarks and the test helpers. It imports
no dataset adapter, detector or pipeline stage, so a training process that imports it stays light.
"""
