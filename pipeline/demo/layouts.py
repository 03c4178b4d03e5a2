"""The recordings each demo dataset holds: names, subjects, attacks and sizes in each release's layout.

A planner per dataset and release lists :class:`Plan` s: what to render (``render.RenderSpec``) and how
the release stores it (frame folders or a video container, annotation files, frame numbering). The
subject ids sit inside each dataset's official train / dev / test ranges, so every protocol split of
every size holds bona fide and attack recordings.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .render import RenderSpec, rng_for

RELEASES = ("public", "challenge")
ETHNICITIES = {1: "AF", 2: "CA", 3: "EA"}
CEFA_PAI = {1: "bonafide", 2: "print", 3: "print", 4: "replay"}
# Per subject: real, cloth print indoor, cloth print outdoor, replay (Race_ID_Device_Session_PAI).
CEFA_2D = ((1, 1, 1), (3, 1, 2), (3, 2, 2), (3, 1, 4))
# Mask recordings: (dresses, glasses, device, session, lighting), as found in the official lists.
CEFA_MASK_RECS = ((1, 0, 2, 1, 2), (1, 1, 2, 2, 3), (0, 0, 2, 1, 4))
SURF_ATTACKS = {"Training": ("04_en_b", "05_enm_s", "06_enm_b"),
                "Val": ("01_e_s", "02_e_b", "03_en_s"), "Testing": ("01_e_s", "02_e_b", "03_en_s")}
OULU_FILES = {1: ("bonafide", 0), 2: ("print", 1), 3: ("print", 2),  # file: (attack, variant)
              4: ("replay", 1), 5: ("replay", 2)}
SIW_TYPES = {1: "bonafide", 2: "print", 3: "replay"}

# Subject ids per split, chosen inside the official ranges; sizes take the first n.
CEFA_IDS = {"train": [5, 45, 85, 125, 165], "dev": [210, 230, 250], "test": [320, 365, 410, 455]}
CEFA_MASK_IDS = {1: [73, 12, 45], 2: [6, 3]}  # mask type 1 = 3D print, 2 = silicone
SURF_IDS = {"Training": [5, 11, 19, 30], "Val": [10, 21], "Testing": [2, 4, 12]}
OULU_USERS = {"Train_files": [1, 2, 3], "Dev_files": [21, 22, 23], "Test_files": [36, 37, 38]}
SIW_IDS = {"Train": [3, 7, 11], "Test": [18, 22, 26]}

# What each size holds. tiny: a few seconds, every protocol split still has bona fide and attacks.
# px of CeFA / CASIA-SURF is the side of the rendered RGB view the release crops are cut from (the
# face is 0.8 of it); depth and IR are about half that (pipeline.demo.crops).
#: dataset → what to write; the keys each dataset's planner reads.
SizeTable = dict[str, dict[str, Any]]
TINY: SizeTable = {
    "cefa": {"subjects": {"train": 1, "dev": 1, "test": 1}, "masks": {1: (1, 1), 2: (1, 1)},
             "frames": 10, "px": 72},
    "surf": {"subjects": {"Training": 1, "Val": 1, "Testing": 1}, "frames": 10, "px": 72},
    "oulu": {"users": 1, "frames": 8, "px": (160, 120)},
    "siw": {"subjects": 1, "live": 2, "frames": 10, "px": (160, 120)},
}
SMALL: SizeTable = {
    "cefa": {"subjects": {"train": 5, "dev": 3, "test": 4}, "masks": {1: (3, 2), 2: (2, 1)},
             "frames": 24, "px": 128},
    "surf": {"subjects": {"Training": 4, "Val": 2, "Testing": 3}, "frames": 16, "px": 128},
    "oulu": {"users": 2, "frames": 20, "px": (320, 240)},
    "siw": {"subjects": 3, "live": 3, "frames": 72, "px": (320, 240)},
}
# Real resolutions and lengths, to measure what decoding real data costs: tiny's recordings (every
# protocol split covered), CeFA 100 frames a recording, OULU-NPU and SiW Full-HD long-GOP H.264.
FULL_SCALE: SizeTable = {
    "cefa": {"frames": 100, "px": 320},
    "surf": {"frames": 30, "px": 320},
    "oulu": {"frames": 150, "px": (1920, 1080), "codec": "h264"},
    "siw": {"frames": 300, "px": (1920, 1080), "codec": "h264"},
}
SIZES: dict[str, SizeTable] = {
    "tiny": TINY,
    "small": SMALL,
    "full": {dataset: {**TINY[dataset], **scale} for dataset, scale in FULL_SCALE.items()},
}
CEFA_FOLDERS = {"rgb": "color", "depth": "depth", "ir": "ir"}
CHALLENGE_FOLDERS = {"rgb": "profile", "depth": "depth", "ir": "ir"}



@dataclass(frozen=True)
class Plan:
    """A recording to write: its metadata, how to render it and how to store it."""

    video_id: str
    rel_path: str
    subject: str
    attack_type: str
    attributes: dict
    spec: RenderSpec
    folders: dict | None = None  # modality -> frame folder name (frame-folder datasets)
    fourcc: str = ""  # video datasets: OpenCV's container codec, or "h264" (long-GOP, B-frames, via ffmpeg)
    annotation: str = ""  # "", "eyes" (OULU .txt) or "boxes" (SiW .face)
    gaps: tuple[int, ...] = field(default=())  # SiW frames whose .face line reads 0 0 0 0
    sparse: bool = False  # frame folders numbered 1, 11, 21, … unpadded (CASIA-SURF), else 0001, 0002, …


# ---------------------------------------------------------------- CeFA
def _cefa_subjects(cfg: dict) -> list[tuple[str, str, int]]:
    """(split, ethnicity, id) for every 2D subject, all three ethnicities."""
    return [(split, eth, sid) for eth in ETHNICITIES.values()
            for split, n in cfg["subjects"].items() for sid in CEFA_IDS[split][:n]]


def _cefa_2d_plan(cfg: dict, eth: str, sid: int, code: tuple[int, int, int], rel: str,
                  folders: dict = CEFA_FOLDERS) -> Plan:
    race = {v: k for k, v in ETHNICITIES.items()}[eth]
    device, session, pai = code
    name = f"{race}_{sid:03d}_{device}_{session}_{pai}"
    attack = CEFA_PAI[pai]
    spec = RenderSpec(name, f"{eth}-{sid:03d}", attack, cfg["frames"], cfg["px"], cfg["px"],
                      variant=session if attack == "print" else 0, place=session, tone=eth)
    attrs = {"ethnicity": eth, "subject_id": sid, "device": device, "session": session, "pai": pai}
    return Plan(name, rel.format(eth=eth, sid=sid, name=name), f"{eth}-{sid:03d}", attack, attrs,
                 spec, folders)


def _cefa_mask_plans(cfg: dict) -> list[Plan]:
    plans = []
    for mtype, (n_subjects, n_recs) in cfg["masks"].items():
        attack, folder = ("mask3d", "3D-Mask") if mtype == 1 else ("silicone", "Silicone-Mask")
        for sid in CEFA_MASK_IDS[mtype][:n_subjects]:
            for dresses, glasses, device, session, lighting in CEFA_MASK_RECS[:n_recs]:
                name = f"{mtype}_{sid:03d}_{dresses}_{glasses}_{device}_{session}_{lighting}"
                subject = f"{attack}-{sid:03d}"
                spec = RenderSpec(name, subject, attack, cfg["frames"], cfg["px"], cfg["px"],
                                  place=10 + lighting)
                attrs = {"mask_type": mtype, "subject_id": sid, "dresses": dresses,
                         "glasses": glasses, "device": device, "session": session,
                         "lighting": lighting}
                plans.append(Plan(name, f"CASIA_CeFA/Mask/{folder}/{sid:03d}/{name}", subject,
                                   attack, attrs, spec, CEFA_FOLDERS))
    return plans


def _cefa_public(cfg: dict, seed: int) -> list[Plan]:
    rel = "CASIA_CeFA/Ethnicity/{eth}/{eth}-{sid:03d}/{name}"
    plans = [_cefa_2d_plan(cfg, eth, sid, code, rel)
             for _, eth, sid in _cefa_subjects(cfg) for code in CEFA_2D]
    return plans + _cefa_mask_plans(cfg)


def _cefa_challenge(cfg: dict, seed: int) -> list[Plan]:
    """Protocol 4 release: train by name; dev and test anonymised in a seeded random order."""
    codes = {"train": CEFA_2D[::3], "dev": CEFA_2D[::3], "test": CEFA_2D[:3]}  # 4@k's attacks
    plans: list[Plan] = []
    hidden: dict[str, list[Plan]] = {"dev": [], "test": []}
    for split, eth, sid in _cefa_subjects(cfg):
        for code in codes[split]:
            if split == "train":
                plans.append(_cefa_2d_plan(cfg, eth, sid, code, "train/{name}", CHALLENGE_FOLDERS))
            else:
                hidden[split].append(_cefa_2d_plan(cfg, eth, sid, code, ""))
    for split, first in (("dev", 3000), ("test", 1)):
        order = rng_for(seed, "anonymise", split).permutation(len(hidden[split]))
        for number, index in enumerate(order, start=first):
            plan = hidden[split][index]
            anon = f"{number:06d}"
            attrs = {"split": split, "anon_id": anon, "ethnicity": plan.attributes["ethnicity"],
                     "true_video_id": plan.video_id}
            plans.append(Plan(f"{split}-{anon}", f"{split}/{anon}", f"{split}-{anon}",
                               plan.attack_type, attrs, plan.spec, CHALLENGE_FOLDERS))
    return plans


# ---------------------------------------------------------------- CASIA-SURF
def _surf(cfg: dict, seed: int) -> list[Plan]:
    plans = []
    for split, n in cfg["subjects"].items():
        for sid in SURF_IDS[split][:n]:
            subject = f"CLKJ_AS{sid:04d}"
            for code in ("real", *SURF_ATTACKS[split]):
                part = "real_part" if code == "real" else "fake_part"
                cut, shape = code.split("_")[1:] if code != "real" else ("", "")
                attack = "bonafide" if code == "real" else "cut_print"
                spec = RenderSpec(f"{subject}-{code}", subject, attack, cfg["frames"], cfg["px"],
                                  cfg["px"], holes=cut, bent=shape == "b")
                attrs = {"split": split, "subject_id": sid, "code": code, "cut": cut,
                         "shape": shape}
                rel = f"CASIA_SURF/Data/{split}/{part}/{subject}/{code}.rssdk"
                plans.append(Plan(f"{subject}-{code}", rel, subject, attack, attrs, spec,
                                   CEFA_FOLDERS, sparse=True))
    return plans


# ---------------------------------------------------------------- OULU-NPU
def _oulu(cfg: dict, seed: int) -> list[Plan]:
    plans = []
    width, height = cfg["px"]
    for folder, users in OULU_USERS.items():
        for user in users[:cfg["users"]]:
            for phone in range(1, 7):
                for session in range(1, 4):
                    for file, (attack, variant) in OULU_FILES.items():
                        name = f"{phone}_{session}_{user:02d}_{file}"
                        spec = RenderSpec(name, f"oulu-{user:02d}", attack, cfg["frames"], width,
                                          height, scene=True, variant=variant, place=session,
                                          camera=phone)
                        attrs = {"phone": phone, "session": session, "user": user, "file": file}
                        plans.append(Plan(name, f"OULU_NPU/{folder}/{name}.avi", f"{user:02d}",
                                           attack, attrs, spec, fourcc=cfg.get("codec", "MJPG"),
                                           annotation="eyes"))
    return plans


# ---------------------------------------------------------------- SiW
def _siw_codes(n_live: int) -> list[tuple[int, int, int, int]]:
    """(sensor, type, medium, session): live takes, print media 1-2, replay media 1-4."""
    live = [(1, 1, 1, 1), (2, 1, 2, 2), (1, 1, 2, 1)][:n_live]
    prints = [(1, 2, 1, 1), (2, 2, 2, 2)]
    replays = [(1 + m % 2, 3, m + 1, 1 + m // 2) for m in range(4)]
    return live + prints + replays


def _siw(cfg: dict, seed: int) -> list[Plan]:
    plans = []
    width, height = cfg["px"]
    for split, ids in SIW_IDS.items():
        for sid in ids[:cfg["subjects"]]:
            for index, (sensor, kind, medium, session) in enumerate(_siw_codes(cfg["live"])):
                stem = f"{sid:03d}-{sensor}-{kind}-{medium}-{session}"
                attack = SIW_TYPES[kind]
                spec = RenderSpec(stem, f"siw-{sid:03d}", attack, cfg["frames"], width, height,
                                  scene=True, variant=medium, place=20 + session,
                                  camera=10 + sensor)  # SiW's rooms and cameras, not OULU's
                attrs = {"split": split, "subject": sid, "sensor": sensor, "type": kind,
                         "medium": medium, "session": session}
                rel = f"SiW/{split}/{'live' if kind == 1 else 'spoof'}/{sid:03d}/{stem}.mov"
                plans.append(Plan(stem, rel, f"{sid:03d}", attack, attrs, spec, fourcc=cfg.get("codec", "mp4v"),
                                   annotation="boxes", gaps=_siw_gaps(seed, stem, index, cfg)))
    return plans


def _siw_gaps(seed: int, stem: str, index: int, cfg: dict) -> tuple[int, ...]:
    """Frames where the released face detector found nothing: some videos, a few frames each."""
    rng = rng_for(seed, "siw-gaps", stem)
    if index != 0 and rng.random() > 0.2:  # every subject's first video has gaps
        return ()
    return tuple(sorted(int(f) for f in rng.choice(cfg["frames"], size=int(rng.integers(1, 4)),
                                                   replace=False)))


PLANNERS = {("cefa", "public"): _cefa_public, ("cefa", "challenge"): _cefa_challenge,
            ("surf", "public"): _surf, ("oulu", "public"): _oulu, ("siw", "public"): _siw}

