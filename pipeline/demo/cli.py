"""The command line of ``python -m pipeline.demo``: write a demo raw dataset in a release's layout."""
from __future__ import annotations

import argparse
import logging
import os
import time
from pathlib import Path

from pipeline.cli import add_verbosity_arguments, command, configure_logging

from .layouts import RELEASES, SIZES
from .write import generate
from ..datasets import DATASETS

log = logging.getLogger("pipeline.demo")


@command("python -m pipeline.demo")
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline.demo",
        description="Synthesise a small raw PAD dataset in its official on-disk layout, so the "
                    "pipeline (index, shard, train, evaluate) runs with no download. Same "
                    "arguments, same bytes.",
        epilog="Layouts: cefa -> OUT/CASIA_CeFA/{Ethnicity,Mask}/... (public) or OUT/{train,dev,"
               "test}/ + 4@k_*.txt (challenge); surf -> OUT/CASIA_SURF/Data/...; "
               "oulu -> OUT/OULU_NPU/{Train,Dev,Test}_files/*.avi + .txt; "
               "siw -> OUT/SiW/{Train,Test}/{live,spoof}/NNN/*.mov + .face; "
               "casia_fasd -> OUT/CASIA_faceAntisp/{train,test}_release/N/*.avi (+ bob's OUT/face-locations/); "
               "replay_attack -> OUT/replayattack/{train,devel,test,enroll,face-locations}/...; "
               "msu_mfsd -> OUT/MSU-MFSD/scene01/{real,attack}/*.{mp4,mov} + .face, {train,test}_sub_list.txt. "
               "Public releases also get OUT/lists/ with the official protocol lists.")
    parser.add_argument("--dataset", required=True, choices=DATASETS,
                        help="which dataset to imitate")
    parser.add_argument("--out", required=True, type=Path,
                        help="raw root to write (the directory the index stage scans); created "
                             "if missing, existing files overwritten")
    parser.add_argument("--seed", type=int, default=0,
                        help="random seed: identities, motion, textures (default: 0)")
    parser.add_argument("--size", choices=tuple(SIZES), default="small",
                        help="tiny: seconds, for tests; small: enough to train SD-Net (default); full: real "
                             "resolutions and lengths (OULU-NPU and SiW 1920x1080 long-GOP H.264 with "
                             "B-frames; minutes to write), to measure real decoding costs. CASIA-FASD, "
                             "Replay-Attack and MSU-MFSD have their real resolutions at every size")
    parser.add_argument("--release", choices=RELEASES, default="public",
                        help="cefa only: the later public release (default) or the CVPR 2020 "
                             "challenge release (Protocol 4, anonymised dev/test, list files)")
    parser.add_argument("--workers", type=int, default=None,
                        help="processes to render with (default: 1 for tiny, else up to 2); "
                             "the output does not depend on it")
    add_verbosity_arguments(parser)
    args = parser.parse_args(argv)
    if args.workers is not None and args.workers < 1:
        parser.error(f"--workers {args.workers}: at least one process")
    if args.workers is None:
        args.workers = 1 if args.size == "tiny" else min(2, os.cpu_count() or 1)
    configure_logging(args)
    start = time.perf_counter()
    try:
        records = generate(args.dataset, args.out, seed=args.seed, size=args.size,
                           release=args.release, workers=args.workers)
    except ValueError as err:
        parser.error(str(err))
    log.info("wrote %d %s recordings (%s, %s release, seed %d) to %s in %.1f s", len(records),
             args.dataset, args.size, args.release, args.seed, args.out,
             time.perf_counter() - start)
    return 0

