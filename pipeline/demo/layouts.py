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
    # the OCIM datasets at their real resolutions (320×240 to 1280×720 are cheap to render)
    "casia_fasd": {"subjects": {"train_release": 1, "test_release": 1}, "frames": 8},
    "replay_attack": {"clients": 1, "attacks": 3, "all_takes": False, "frames": 8},
    "msu_mfsd": {"clients": {"train": 2, "test": 1}, "frames": 8},
}
SMALL: SizeTable = {
    "cefa": {"subjects": {"train": 5, "dev": 3, "test": 4}, "masks": {1: (3, 2), 2: (2, 1)},
             "frames": 24, "px": 128},
    "surf": {"subjects": {"Training": 4, "Val": 2, "Testing": 3}, "frames": 16, "px": 128},
    "oulu": {"users": 2, "frames": 20, "px": (320, 240)},
    "siw": {"subjects": 3, "live": 3, "frames": 72, "px": (320, 240)},
    "casia_fasd": {"subjects": {"train_release": 3, "test_release": 3}, "frames": 24},
    "replay_attack": {"clients": 2, "attacks": 5, "all_takes": True, "frames": 24},
    "msu_mfsd": {"clients": {"train": 3, "test": 2}, "frames": 24},
}
# Real resolutions and lengths, to measure what decoding real data costs: tiny's recordings (every
# protocol split covered), CeFA 100 frames a recording, OULU-NPU and SiW Full-HD long-GOP H.264.
FULL_SCALE: SizeTable = {
    "cefa": {"frames": 100, "px": 320},
    "surf": {"frames": 30, "px": 320},
    "oulu": {"frames": 150, "px": (1920, 1080), "codec": "h264"},
    "siw": {"frames": 300, "px": (1920, 1080), "codec": "h264"},
    "casia_fasd": {"frames": 150},
    "replay_attack": {"frames": 375},  # 15 s at 25 fps
    "msu_mfsd": {"frames": 300},
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
    # "", "eyes" (OULU .txt), "boxes" (SiW .face), "bob" (frame x y w h: bob's CASIA-FASD files, a face-less
    # frame written 0 0 0 0 0), "bob_sparse" (the same, face-less frames left out: Replay-Attack's) or "msu"
    annotation: str = ""
    annotation_path: str = ""  # where the annotation goes when not beside the video (relative to the root)
    gaps: tuple[int, ...] = field(default=())  # frames where the release's face detector found nothing
    sparse: bool = False  # frame folders numbered 1, 11, 21, … unpadded (CASIA-SURF), else 0001, 0002, …
    fps: float = 30.0
    # degrees a player turns the stored video (clockwise) to show it upright: the pixels are stored turned the
    # other way and the container says so (an Android phone held upside down: MSU-MFSD)
    rotation: int = 0
    pad: bool = True  # False: in the release but never a PAD sample (Replay-Attack's enrollment videos)


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


def _face_gaps(seed: int, stem: str, n_frames: int, share: float) -> tuple[int, ...]:
    """A few frames where the release's face detector found nothing, in about ``share`` of the videos."""
    rng = rng_for(seed, "face-gaps", stem)
    if rng.random() > share:
        return ()
    return tuple(sorted(int(f) for f in rng.choice(n_frames, size=int(rng.integers(1, 4)), replace=False)))


# ---------------------------------------------------------------- CASIA-FASD
# File stem → (attack, variant, camera): cameras 1 low quality (an old USB webcam) and 2 normal (640×480),
# 3 high (a Sony NEX-5, 1280×720). Test subject folders restart at 1 (the subject is the folder + 20).
CASIA_FILES = {"1": ("bonafide", 0, 2), "2": ("bonafide", 0, 1), "HR_1": ("bonafide", 0, 3),
               "3": ("print", 1, 2), "4": ("print", 1, 1), "HR_2": ("print", 1, 3),
               "5": ("cut_print", 2, 2), "6": ("cut_print", 2, 1), "HR_3": ("cut_print", 2, 3),
               "7": ("replay", 1, 2), "8": ("replay", 1, 1), "HR_4": ("replay", 1, 3)}
CASIA_SIZES = {1: (640, 480), 2: (640, 480), 3: (1280, 720)}
CASIA_FOLDERS = {"train_release": [3, 14, 20], "test_release": [1, 17, 30]}


def _casia_fasd(cfg: dict, seed: int) -> list[Plan]:
    plans = []
    for split, folders in CASIA_FOLDERS.items():
        for folder in folders[:cfg["subjects"][split]]:
            subject = folder + (20 if split == "test_release" else 0)
            for stem, (attack, variant, camera) in CASIA_FILES.items():
                rel = f"{split}/{folder}/{stem}"
                width, height = CASIA_SIZES[camera]
                spec = RenderSpec(rel, f"casia-{subject}", attack, cfg["frames"], width, height, scene=True,
                                  variant=variant, holes="e" if attack == "cut_print" else "", place=30,
                                  camera=30 + camera)
                attrs = {"subject_id": subject, "folder": folder, "file": stem, "camera": camera}
                plans.append(Plan(rel.replace("/", "-"), f"CASIA_faceAntisp/{rel}.avi", f"{subject:02d}", attack,
                                  attrs, spec, fourcc="MJPG", fps=25.0, annotation="bob",
                                  annotation_path=f"face-locations/{rel}.face",
                                  gaps=_face_gaps(seed, rel, cfg["frames"], 0.3)))
    return plans


# ---------------------------------------------------------------- Replay-Attack
REPLAY_CLIENTS = {"train": [1, 103, 2], "devel": [3, 101, 5], "test": [9, 102, 11]}  # the release's own ids
# (attack device, sample device, sample type); tiny films the first three (every sub-protocol still covered)
REPLAY_ATTACKS = (("print", "highdef", "photo"), ("mobile", "mobile", "video"), ("highdef", "highdef", "photo"),
                  ("mobile", "mobile", "photo"), ("highdef", "highdef", "video"))
LIGHTS = ("controlled", "adverse")


def _replay_plan(cfg: dict, seed: int, rel: str, client: int, attack: str, attrs: dict, variant: int = 0,
                 pad: bool = True) -> Plan:
    stem = rel.rsplit("/", 1)[1]
    support = attrs.get("support")
    spec = RenderSpec(rel, f"replay-{client}", attack, cfg["frames"], 320, 240, scene=True, variant=variant,
                      place=40 + LIGHTS.index(attrs["light"]), camera=40,
                      still=support == "fixed")  # on a stand the medium does not move
    gaps = _face_gaps(seed, rel, cfg["frames"], 0.3)
    return Plan(f"{support}-{stem}" if support else stem, f"replayattack/{rel}.mov", f"{client:03d}", attack, attrs,
                spec, fourcc="jpeg", fps=25.0, annotation="bob_sparse", pad=pad, gaps=gaps,
                annotation_path=f"replayattack/face-locations/{rel}.face")


def _replay_attack(cfg: dict, seed: int) -> list[Plan]:
    plans = []
    for split, clients in REPLAY_CLIENTS.items():
        for index, client in enumerate(clients[:cfg["clients"]]):
            lights = LIGHTS if cfg["all_takes"] else LIGHTS[index % 2:][:1]
            for light in LIGHTS:
                for take in (1, 2) if cfg["all_takes"] else (1,):
                    rel = f"{split}/real/client{client:03d}_session01_webcam_authenticate_{light}_{take}"
                    plans.append(_replay_plan(cfg, seed, rel, client, "bonafide", {"light": light, "take": take}))
                enroll = f"enroll/client{client:03d}_session01_webcam_enroll_{light}"
                plans.append(_replay_plan(cfg, seed, enroll, client, "bonafide", {"light": light}, pad=False))
            for number, (device, sample_device, sample_type) in enumerate(REPLAY_ATTACKS[:cfg["attacks"]]):
                for light in lights:
                    stem = f"attack_{device}_client{client:03d}_session01_{sample_device}_{sample_type}_{light}"
                    for support in ("fixed", "hand"):  # one file name under both supports
                        attrs = {"light": light, "support": support, "attack_device": device,
                                 "sample_type": sample_type}
                        plans.append(_replay_plan(cfg, seed, f"{split}/attack/{support}/{stem}", client,
                                                  "print" if device == "print" else "replay", attrs, number))
    return plans


# ---------------------------------------------------------------- MSU-MFSD
# The release's split (its train_sub_list.txt and test_sub_list.txt, as bob.db.msu_mfsd_mod ships them).
MSU_SUB_LISTS = {"train": (2, 3, 5, 6, 7, 8, 9, 11, 12, 21, 22, 34, 53, 54, 55),
                 "test": (1, 13, 14, 23, 24, 26, 28, 29, 30, 32, 33, 35, 36, 37, 39, 42, 48, 49, 50, 51)}
MSU_CLIENTS = {"train": [5, 2, 11], "test": [1, 13]}  # 5: one of the six filmed with the phone upside down
MSU_ROTATED = (3, 5, 6, 7, 8, 9)  # their Android bona fide videos (bob.db.msu_mfsd_mod's rotated_videos.txt)
MSU_CAMERAS = {"android": ((720, 480), ".mp4"), "laptop": ((640, 480), ".mov")}
MSU_MEDIA = {"ipad_video": ("replay", 1), "iphone_video": ("replay", 2), "printed_photo": ("print", 1)}


def _msu_mfsd(cfg: dict, seed: int) -> list[Plan]:
    plans = []
    for split, clients in MSU_CLIENTS.items():
        for client in clients[:cfg["clients"][split]]:
            for camera, ((width, height), suffix) in MSU_CAMERAS.items():
                for medium in (None, *MSU_MEDIA):
                    attack, variant = MSU_MEDIA[medium] if medium else ("bonafide", 0)
                    stem = (f"attack_client{client:03d}_{camera}_SD_{medium}_scene01" if medium
                            else f"real_client{client:03d}_{camera}_SD_scene01")
                    rotation = 180 if not medium and camera == "android" and client in MSU_ROTATED else 0
                    spec = RenderSpec(stem, f"msu-{client}", attack, cfg["frames"], width, height, scene=True,
                                      variant=variant, place=50, camera=50 + list(MSU_CAMERAS).index(camera))
                    attrs = {"client_id": client, "camera": camera, "medium": medium, "rotation": rotation}
                    folder = "attack" if medium else "real"
                    plans.append(Plan(stem, f"MSU-MFSD/scene01/{folder}/{stem}{suffix}", f"{client:03d}", attack,
                                      attrs, spec, fourcc="h264", annotation="msu", rotation=rotation,
                                      gaps=_face_gaps(seed, stem, cfg["frames"], 0.3)))
    return plans


PLANNERS = {("cefa", "public"): _cefa_public, ("cefa", "challenge"): _cefa_challenge,
            ("surf", "public"): _surf, ("oulu", "public"): _oulu, ("siw", "public"): _siw,
            ("casia_fasd", "public"): _casia_fasd, ("replay_attack", "public"): _replay_attack,
            ("msu_mfsd", "public"): _msu_mfsd}

