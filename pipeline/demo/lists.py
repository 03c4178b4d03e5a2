"""Official-format protocol list files for a demo tree, so ``index --lists`` has real lists to read.

The membership comes from ``protocols/<ds>.yaml`` applied to the generated tree; the formats (paths,
separators, label polarity) are each adapter's ``format_lists``. The independent check of the rules
is the reference-list test, which compares them with the published lists.
"""
from __future__ import annotations

import logging
from pathlib import Path

from ..datasets import get_adapter
from ..index import videos_table
from ..protocols import apply_spec, load_spec

log = logging.getLogger(__name__)


def write_official_lists(dataset: str, root: Path, out: Path) -> dict[str, int]:
    """Write the list files of every protocol of ``dataset`` that has a published format into ``out``."""
    adapter = get_adapter(dataset)
    spec = load_spec(dataset)
    videos = videos_table(adapter.scan(root).recordings)
    columns = ["video_id", "is_bonafide", "attack_type", "path_rgb"]
    members = apply_spec(spec, videos).merge(videos[columns], on="video_id")
    written = {}
    for name, lines in sorted(adapter.format_lists(members, spec).items()):
        path = out / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
        written[name] = len(lines)
    log.info("wrote %d %s list files to %s", len(written), dataset, out)
    return written
