"""Pixels for the demo datasets: one real face photograph, moved and dressed up as live or attack.

The face is ``skimage.data.astronaut()``. Every recording is rendered from it by a per-frame
source-to-output affine matrix (identity pose x rigid motion), so annotations (eyes, face box) are
the reference landmarks pushed through the same matrix and agree with the pixels by construction.

Physical cues, chosen to match what the real sensors see:
- live: rigid head motion plus non-rigid blinks and mouth movement; depth shows the face relief;
  IR is a normal grey image, brighter where the face is nearer (active NIR illumination) and
  the same for every skin tone (melanin absorbs little in the near infrared).
- print / cut print: the photo moves as one rigid plane; reduced dynamic range, paper (or cloth)
  texture; depth is a flat, slightly tilted plane (a bent print adds a shallow curve); IR grey and
  low contrast. Cut prints show the live face (relief, blinks) through the holes.
- replay: rigid plane; colour cast, scan lines, moire, glare; flat depth; dark in IR (screens
  emit almost no near-infrared).
- 3D / silicone masks: rigid motion without blinks, smooth texture, face relief in depth.

Two framings: ``crop`` (CeFA, CASIA-SURF: face crop on black, with registered depth and IR) and
``scene`` (OULU-NPU, SiW: RGB frame with a background, the person or the attack in front of it).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache, lru_cache

import cv2
import numpy as np

PAD = 64  # the source is padded so paper margins and screen bezels fit around the photo
# Reference landmarks in astronaut() pixel coordinates, shifted into the padded source.
HEAD_CENTER = np.array([226.0, 100.0]) + PAD
HEAD_AXES = (72.0, 84.0)
HEAD_HEIGHT = 2 * HEAD_AXES[1]
FACE_CENTER = np.array([224.5, 113.5]) + PAD  # Haar finds the face at [177, 66, 95, 95]
FACE_HALF = 47.5
EYES = np.array([[202.0, 101.0], [248.0, 103.0]]) + PAD
NOSE = np.array([225.0, 126.0]) + PAD
MOUTH = np.array([222.0, 146.0]) + PAD
PHOTO_RECT = (95 + PAD, -10 + PAD, 360 + PAD, 300 + PAD)  # what a print or a screen shows
# Outline of the person below the hair line (jaw, neck, suit collar ring, shoulders).
PERSON = np.array([[168, 118], [180, 140], [186, 158], [175, 156], [163, 150], [133, 157],
                   [113, 190], [106, 212], [80, 230], [48, 280], [35, 420], [395, 420], [380, 300],
                   [347, 260], [307, 250], [300, 232], [281, 200], [258, 180], [262, 160],
                   [270, 140], [285, 118]], np.float64) + PAD
EDIT_BOX = (170 + PAD, 85 + PAD, 280 + PAD, 180 + PAD)  # x1,y1,x2,y2: where blinks and mouth move
HOLES = {"e": [(EYES[0], (14, 8)), (EYES[1], (14, 8))], "n": [(NOSE, (10, 13))],
         "m": [(MOUTH, (22, 10))]}
ATTACKS = ("bonafide", "print", "replay", "mask3d", "silicone", "cut_print")
RIGID_PLANES = ("print", "replay", "cut_print")
# Visible-light skin-tone gains per CeFA ethnicity code. Melanin absorbs little in the near
# infrared, so the IR renderer divides the tone back out: NIR brightness does not follow skin tone.
SKIN_TONES = {"AF": (0.62, 0.55, 0.52), "EA": (1.0, 0.97, 0.86)}


def skin_tone(tone: str) -> np.ndarray:
    """RGB gains of a CeFA ethnicity code (no change for CA and for datasets without one)."""
    return np.asarray(SKIN_TONES.get(tone, (1.0, 1.0, 1.0)))


@dataclass(frozen=True)
class RenderSpec:
    """What to render for one recording; ``key`` seeds its motion, ``subject`` the identity."""

    key: str
    subject: str
    attack_type: str
    n_frames: int
    width: int
    height: int
    scene: bool = False  # False: face crop on black + depth + IR; True: RGB scene
    variant: int = 0  # printer / display / medium / lighting: changes the attack's look
    holes: str = ""  # cut prints: subset of "enm" (eyes, nose, mouth)
    bent: bool = False  # cut prints: curved paper
    place: int = 0  # background and illumination (session)
    camera: int = 0  # sensor (phone): colour gains, blur, noise
    tone: str = ""  # ethnicity skin-tone shift (CeFA)
    still: bool = False  # the subject holds still: no head motion, blinks or expressions (sensor noise stays)


@dataclass(frozen=True, eq=False)
class Rendered:
    frames: dict[str, list[np.ndarray]]  # 'rgb' (H,W,3) RGB uint8; 'depth', 'ir' (H,W) uint8
    face_boxes: np.ndarray  # (n,4) int x1,y1,x2,y2
    eyes: np.ndarray  # (n,4) int x_right_eye,y_right_eye,x_left_eye,y_left_eye (right = image left)


def rng_for(seed: int, *parts: object) -> np.random.Generator:
    """A generator derived from the seed and a name; stable across runs and platforms."""
    digest = hashlib.sha256(":".join(map(str, (seed, *parts))).encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


# ---------------------------------------------------------------- source layers (cached)
def _ellipse(shape: tuple[int, int], center, axes) -> np.ndarray:
    yy, xx = np.mgrid[0:shape[0], 0:shape[1]].astype(np.float32)
    return ((xx - center[0]) / axes[0]) ** 2 + ((yy - center[1]) / axes[1]) ** 2


@lru_cache(maxsize=1)
def _source() -> np.ndarray:
    from skimage import data

    return cv2.copyMakeBorder(data.astronaut(), PAD, PAD, PAD, PAD, cv2.BORDER_REFLECT)


@lru_cache(maxsize=1)
def _relief() -> np.ndarray:
    """Face relief in source coordinates, 0..~1.2, nearer = larger (ellipsoid, nose, sockets)."""
    r2 = _ellipse(_source().shape[:2], HEAD_CENTER, HEAD_AXES)
    relief = np.sqrt(np.clip(1.0 - r2, 0.0, 1.0)) ** 0.7
    bumps = [(NOSE, 9.0, 0.28), (EYES[0], 8.0, -0.10), (EYES[1], 8.0, -0.10), (MOUTH, 10.0, 0.06)]
    for center, sigma, height in bumps:
        relief += height * np.exp(-_ellipse(relief.shape, center, (sigma, sigma)) / 2)
    return np.where(r2 <= 1.0, relief, 0.0).astype(np.float32)


@lru_cache(maxsize=1)
def _masks() -> dict[str, np.ndarray]:
    """uint8 0/255 masks in source coordinates: head, person, photo, paper, screen, cut-outs."""
    shape = _source().shape[:2]
    ellipse = _ellipse(shape, HEAD_CENTER, HEAD_AXES) <= 1.0
    head = ellipse.astype(np.uint8) * 255
    person = np.where(np.arange(shape[0])[:, None] <= 125 + PAD, head, 0).astype(np.uint8)
    cv2.fillPoly(person, [np.round(PERSON).astype(np.int32)], 255)
    x1, y1, x2, y2 = PHOTO_RECT
    masks = {"head": head, "person": person}
    for name, margin in (("photo", 0), ("paper", 9), ("screen", 14)):
        masks[name] = np.zeros(shape, np.uint8)
        masks[name][y1 - margin:y2 + margin, x1 - margin:x2 + margin] = 255
    for code, ellipses in HOLES.items():
        hole = np.zeros(shape, np.uint8)
        for center, axes in ellipses:
            hole[_ellipse(shape, center, axes) <= 1.0] = 255
        masks["hole_" + code] = hole
    return masks


@cache
def _roi(name: str) -> tuple[slice, slice]:
    """Bounding slices of a mask: looks are computed only where the object can be seen."""
    ys, xs = np.nonzero(_masks()[name])
    return slice(max(ys.min() - 4, 0), ys.max() + 5), slice(max(xs.min() - 4, 0), xs.max() + 5)


@lru_cache(maxsize=64)
def identity(subject: str, seed: int, tone: str = "") -> tuple[np.ndarray, tuple]:
    """A subject's look: recoloured source (uint8 RGB) and pose (mirror, aspect, scale, roll)."""
    rng = rng_for(seed, "identity", subject)
    gains = rng.uniform(0.85, 1.15, 3) * skin_tone(tone)
    offset, gamma = rng.uniform(-12, 12), rng.uniform(0.85, 1.2)
    img = (_source().astype(np.float32) / 255.0) ** gamma * 255.0 * gains + offset
    pose = (bool(rng.random() < 0.5), rng.uniform(0.92, 1.08), rng.uniform(0.93, 1.07),
            rng.uniform(-4, 4))
    img = np.clip(img, 0, 255).astype(np.uint8)
    img.flags.writeable = False  # cached and shared
    return img, pose


@lru_cache(maxsize=16)
def _background(place: int, seed: int, width: int, height: int) -> np.ndarray:
    """A room seen by the camera: wall gradient, a few pieces of furniture, a floor."""
    rng = rng_for(seed, "place", place)
    ramp = np.linspace(1.1, 0.8, height, dtype=np.float32)[:, None, None]
    img = np.ones((height, width, 3), np.float32) * rng.uniform(90, 200, 3) * ramp
    for _ in range(int(rng.integers(3, 6))):
        x, y = rng.uniform(0, 0.9) * width, rng.uniform(0, 0.8) * height
        w, h = rng.uniform(0.08, 0.35) * width, rng.uniform(0.15, 0.6) * height
        cv2.rectangle(img, (int(x), int(y)), (int(x + w), int(y + h)),
                      rng.uniform(30, 230, 3).tolist(), -1)
    img[int(0.85 * height):] *= 0.7
    return cv2.GaussianBlur(img, (0, 0), 0.01 * width + 0.5)


@lru_cache(maxsize=16)
def _camera(camera: int, seed: int) -> tuple[np.ndarray, float, float]:
    rng = rng_for(seed, "camera", camera)
    """Colour gains, blur sigma and noise sigma of one camera (phone, sensor)."""
    gains = rng.uniform(0.92, 1.08, 3).astype(np.float32)
    return gains, rng.uniform(0.3, 0.9), rng.uniform(1.5, 3.5)


@lru_cache(maxsize=8)
def _noise_bank(seed: int, height: int, width: int) -> np.ndarray:
    """Sensor noise, sliced at a random offset per frame (cheaper than drawing it every frame)."""
    return rng_for(seed, "noise", height, width).standard_normal((2 * height, 2 * width, 3),
                                                                 dtype=np.float32)


@lru_cache(maxsize=8)
def _noise_bank_u8(seed: int, height: int, width: int, sigma: float) -> np.ndarray:
    """The same noise scaled and stored as uint8 around 128, for cheap saturating adds."""
    return np.clip(128.5 + sigma * _noise_bank(seed, height, width), 0, 255).astype(np.uint8)


def _noise(rng: np.random.Generator, seed: int, height: int, width: int,
           sigma: float | None = None) -> np.ndarray:
    oy, ox = rng.integers(0, height), rng.integers(0, width)
    bank = _noise_bank(seed, height, width) if sigma is None else _noise_bank_u8(
        seed, height, width, sigma)
    return bank[oy:oy + height, ox:ox + width]


def _gain_lut(gains: tuple[float, float, float]) -> np.ndarray:
    """Per-channel multiply as a lookup table (much faster than arithmetic on uint8 frames)."""
    ramp = np.arange(256, dtype=np.float32)[:, None] * np.asarray(gains, np.float32)
    return np.clip(ramp + 0.5, 0, 255).astype(np.uint8).reshape(256, 1, 3)


# ---------------------------------------------------------------- geometry and motion
def frame_matrix(anchor, scale: float, roll_deg: float, aspect: float, mirror: bool) -> np.ndarray:
    """Source -> output 2x3 matrix putting HEAD_CENTER at ``anchor`` (a similarity)."""
    a = np.deg2rad(roll_deg)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    lin = scale * rot @ np.diag([aspect * (-1.0 if mirror else 1.0), 1.0])
    return np.hstack([lin, (np.asarray(anchor) - lin @ HEAD_CENTER)[:, None]]).astype(np.float32)


def _smooth_path(rng: np.random.Generator, n: int, amp: float, jitter: float) -> np.ndarray:
    """Two slow sinusoids plus hand tremor: a plausible 1-D motion trace of ``n`` frames."""
    t = np.arange(n) / max(n, 8)
    path = sum(amp * rng.uniform(0.4, 0.8) * np.sin(2 * np.pi * rng.uniform(0.4, 1.6) * t
                                                    + rng.uniform(0, 2 * np.pi)) for _ in range(2))
    return path + jitter * amp * rng.standard_normal(n)


def _base_scale(spec: RenderSpec) -> float:
    """Source -> output scale: scene faces are 0.31 frame heights wide; crops are 80 % head."""
    if spec.scene:
        return 0.31 * spec.height / (2 * FACE_HALF)
    return 0.8 * min(spec.width, spec.height) / HEAD_HEIGHT


def _matrices(spec: RenderSpec, seed: int, rng: np.random.Generator) -> list[np.ndarray]:
    mirror, aspect, id_scale, roll = identity(spec.subject, seed, spec.tone)[1]
    w, h, n = spec.width, spec.height, spec.n_frames
    hand = spec.attack_type in RIGID_PLANES  # hand-held planes shake more than heads
    amp, jit = (0.03, 0.25) if hand else (0.02, 0.05)
    base = _base_scale(spec)
    anchor = np.array([0.5 * w, (0.42 if spec.scene else 0.5) * h])
    if hand and spec.scene:
        id_scale *= 0.8 + 0.05 * spec.variant  # a print or a phone screen is smaller than a head
    dx, dy = (_smooth_path(rng, n, amp * min(w, h), jit) for _ in range(2))
    droll, dscale = _smooth_path(rng, n, 100 * amp, jit), _smooth_path(rng, n, amp, jit)
    if spec.still:  # drawn all the same, so the rest of the recording's random stream is unchanged
        dx, dy, droll, dscale = (np.zeros(n) for _ in range(4))
    return [frame_matrix(anchor + (dx[t], dy[t]), base * id_scale * (1 + dscale[t]),
                         roll + droll[t], aspect, mirror) for t in range(n)]


def face_annotations(matrices: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Face boxes and eyes per frame: the reference landmarks through each frame's matrix."""
    boxes, eyes = [], []
    for m in matrices:
        scale = float(np.sqrt(abs(np.linalg.det(m[:, :2]))))
        c = m[:, :2] @ FACE_CENTER + m[:, 2]
        boxes.append(np.round([c[0] - FACE_HALF * scale, c[1] - FACE_HALF * scale,
                               c[0] + FACE_HALF * scale, c[1] + FACE_HALF * scale]))
        pts = sorted((m[:, :2] @ e + m[:, 2]).tolist() for e in EYES)  # right eye = image left
        eyes.append(np.round([*pts[0], *pts[1]]))
    return np.asarray(boxes, np.int64), np.asarray(eyes, np.int64)


# ---------------------------------------------------------------- live non-rigid motion
def _blinks(rng: np.random.Generator, n: int) -> np.ndarray:
    """Eye closure per frame (0 open, 1 shut): at least one 3-frame blink, ~one per 30 frames."""
    closure = np.zeros(n, np.float32)
    if n < 4:
        return closure
    starts = [int(rng.integers(1, n - 2))]
    starts += [int(s) for s in rng.integers(1, n - 2, size=n // 30)]
    for s in starts:
        for k, c in enumerate((0.6, 1.0, 0.6)):
            if s + k < n:
                closure[s + k] = max(closure[s + k], c)
    return closure


def _close_eyes(img: np.ndarray, closure: float) -> None:
    """Draw eyelids over both eyes in place: cheek-coloured skin and a darker crease."""
    for ex, ey in np.round(EYES).astype(int):
        lid = img[ey + 9:ey + 15, ex - 8:ex + 8, :3].reshape(-1, 3).mean(0)
        patch = img[ey - 9:ey + 10, ex - 15:ex + 16, :3].astype(np.float32)
        yy, xx = np.mgrid[-9:10, -15:16].astype(np.float32)
        soft = np.clip(1.5 - np.sqrt((xx / 12) ** 2 + (yy / 6.5) ** 2) * 1.5, 0, 1)[..., None]
        patch = patch * (1 - closure * soft) + lid * closure * soft
        crease = (np.abs(yy - 1) < 1.2) & (np.abs(xx) < 10)
        patch[crease] *= 1 - 0.45 * closure
        img[ey - 9:ey + 10, ex - 15:ex + 16, :3] = np.clip(patch, 0, 255).astype(np.uint8)


def _move_mouth(img: np.ndarray, open_px: float, smile_px: float) -> None:
    """Open the mouth / pull its corners in place with a smooth local warp (an expression)."""
    mx, my = np.round(MOUTH).astype(int)
    x0, y0 = mx - 36, my - 28
    yy, xx = np.mgrid[-28:29, -36:37].astype(np.float32)
    weight = np.exp(-(xx / 20) ** 2 - (yy / 13) ** 2)
    dy = open_px * weight * np.clip(yy / 6, -0.4, 1.0) - 0.4 * smile_px * weight * np.abs(xx) / 20
    dx = smile_px * weight * xx / 20
    # maps into the copied patch, which starts 8 px above and left of the edited area
    map_x, map_y = (xx - dx + 44).astype(np.float32), (yy - dy + 36).astype(np.float32)
    src = img[y0 - 8:y0 + 65, x0 - 8:x0 + 81, :3].copy()
    img[y0:y0 + 57, x0:x0 + 73, :3] = cv2.remap(src, map_x, map_y, cv2.INTER_LINEAR,
                                                borderMode=cv2.BORDER_REFLECT)


def _expressions(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    t = np.arange(n, dtype=np.float32)
    period, phase = rng.uniform(6, 24), rng.uniform(0, 2 * np.pi)
    talk = rng.uniform(2.5, 5.0) * (0.5 - 0.5 * np.cos(2 * np.pi * t / period + phase))
    smile = rng.uniform(1.0, 3.0) * (0.5 - 0.5 * np.cos(np.pi * t / max(n, 8) + phase))
    return talk, smile


# ---------------------------------------------------------------- what the object looks like
def _alpha_name(spec: RenderSpec) -> str:
    if not spec.scene:
        return "head"  # CeFA and CASIA-SURF ship face crops masked on black, attacks included
    planes = {"print": "paper", "cut_print": "paper", "replay": "screen"}
    return planes.get(spec.attack_type, "person")


def _texture(rng: np.random.Generator, shape: tuple[int, ...], sigma: float) -> np.ndarray:
    noise = rng.standard_normal(shape[:2], dtype=np.float32)
    return cv2.GaussianBlur(noise, (0, 0), sigma)[..., None]


def _print_look(f: np.ndarray, spec: RenderSpec, rng: np.random.Generator, roi) -> np.ndarray:
    """Ink on paper (or cloth): desaturated, compressed dynamic range, fibre texture, soft dots."""
    lum = f.mean(2, keepdims=True)
    f = lum + 0.8 * (f - lum)
    f = 30 + (0.66 + 0.04 * spec.variant) * f * rng.uniform(0.95, 1.05, 3).astype(np.float32)
    f = cv2.GaussianBlur(f, (0, 0), 0.8) + 7 * _texture(rng, f.shape, 1.2)
    if spec.scene:  # white paper margin around the photo
        f = np.where(_masks()["photo"][roi][..., None] > 0, f, 232 + 4 * _texture(rng, f.shape, 2))
    elif spec.attack_type == "print":  # CeFA prints are on cloth: a visible weave
        yy, xx = np.mgrid[0:f.shape[0], 0:f.shape[1]].astype(np.float32)
        f += (6 * np.sin(2 * np.pi * xx / 3.3) * np.sin(2 * np.pi * yy / 3.3))[..., None]
    return f


def _screen_look(f: np.ndarray, spec: RenderSpec, rng: np.random.Generator, roi) -> np.ndarray:
    """A display: colour cast, gamma, scan lines, a glare band; a dark bezel in scenes."""
    cast = np.array([0.92, 0.97, 1.1], np.float32) * rng.uniform(0.94, 1.06, 3).astype(np.float32)
    f = 255.0 * (f / 255.0) ** rng.uniform(0.8, 1.0) * cast * 0.95 + 8
    f = cv2.GaussianBlur(f, (0, 0), 0.9)
    f[::3] = f[::3] * 0.86  # not *=: OpenCV's stubs type the blurred image as possibly integer
    yy, xx = np.mgrid[0:f.shape[0], 0:f.shape[1]].astype(np.float32)
    band = (xx + yy - rng.uniform(0.5, 1.5) * f.shape[0]) / (30 + 10 * spec.variant)
    f += (30 * np.exp(-band ** 2))[..., None]
    if spec.scene:
        f = np.where(_masks()["photo"][roi][..., None] > 0, f, np.float32(24))
    return f


def _mask_look(f: np.ndarray, spec: RenderSpec, rng: np.random.Generator, roi) -> np.ndarray:
    """Resin (3D print) or silicone: smooth, uniform colour; silicone also has a sheen."""
    if spec.attack_type == "mask3d":
        return 0.7 * cv2.GaussianBlur(f, (0, 0), 2.4) + 0.3 * np.array([228, 196, 160], np.float32)
    f = 0.85 * cv2.GaussianBlur(f, (0, 0), 1.3) + 0.15 * np.array([226, 168, 158], np.float32)
    return f + 40 * _relief()[roi][..., None] ** 4


LOOKS = {"print": _print_look, "cut_print": _print_look, "replay": _screen_look,
         "mask3d": _mask_look, "silicone": _mask_look}


@lru_cache(maxsize=32)
def _surface(spec: RenderSpec, seed: int) -> np.ndarray:
    """RGBA uint8 in source coordinates: the object's appearance (alpha: where the object is).

    One artefact (print, screen, mask) per subject and variant, reused by every recording of it,
    as in the real collections where one print is filmed by every phone in every session.
    """
    img = identity(spec.subject, seed, spec.tone)[0]
    name = _alpha_name(spec)
    surface = np.dstack([img, _masks()[name]])
    if spec.attack_type in LOOKS:
        rng = rng_for(seed, "artefact", spec.subject, spec.attack_type, spec.variant, spec.scene)
        roi = _roi(name)
        rgb = LOOKS[spec.attack_type](img[roi].astype(np.float32), spec, rng, roi)
        surface[roi][..., :3] = np.clip(rgb, 0, 255).astype(np.uint8)
    surface.flags.writeable = False  # shared between recordings
    return surface


def _artefact_key(spec: RenderSpec) -> RenderSpec:
    """The spec with the per-recording fields blanked, so recordings share one artefact."""
    return RenderSpec("", spec.subject, spec.attack_type, 0, 0, 0, spec.scene, spec.variant,
                      holes=spec.holes, tone=spec.tone)


@lru_cache(maxsize=8)
def _live_base(subject: str, seed: int, tone: str, scene: bool) -> np.ndarray:
    img = np.dstack([identity(subject, seed, tone)[0], _masks()["person" if scene else "head"]])
    img.flags.writeable = False
    return img


def _live_surface(spec: RenderSpec, seed: int) -> np.ndarray:
    """A private RGBA copy of the subject that per-frame blinks and expressions draw on."""
    return _live_base(spec.subject, seed, spec.tone, spec.scene).copy()


@lru_cache(maxsize=32)
def _static(artefact: RenderSpec, seed: int, levels: int) -> tuple:
    """The recording-independent sources, reduced for warping: surface, relief, cut-out mask."""
    holes = None
    if artefact.attack_type == "cut_print":
        holes = np.max([_masks()["hole_" + c] for c in artefact.holes or "e"], axis=0)
    return (_down(_surface(artefact, seed), levels), _down(_relief(), levels),
            _down(holes, levels) if holes is not None else None)


@lru_cache(maxsize=32)
def _room(place: int, camera: int, seed: int, width: int, height: int) -> np.ndarray:
    """The background as this camera sees it under this place's light (uint8 RGB)."""
    room = _background(place, seed, width, height) * _light(place, seed) * _camera(camera, seed)[0]
    return np.clip(room, 0, 255).astype(np.uint8)


@lru_cache(maxsize=32)
def _light(place: int, seed: int) -> np.ndarray:
    rng = rng_for(seed, "light", place)
    return (rng.uniform(0.75, 1.15) * rng.uniform(0.92, 1.08, 3)).astype(np.float32)


def _warp(job: _Job, img: np.ndarray, t: int) -> np.ndarray:
    out = cv2.warpAffine(img, job.warp_mats[t], (job.spec.width, job.spec.height),
                         flags=cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return out.astype(np.float32)


@lru_cache(maxsize=8)
def _grid(width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    return xx, yy


@lru_cache(maxsize=8)
def _stripes(width: int, height: int, angle: float, period: float) -> tuple[np.ndarray, np.ndarray]:
    xx, yy = _grid(width, height)
    phase = 2 * np.pi * (xx * np.cos(angle) + yy * np.sin(angle)) / period
    return np.sin(phase), np.cos(phase)


def _moire(spec: RenderSpec, params: tuple, t: int, gains=(1.0, 1.0, 1.0)) -> np.ndarray:
    """Interference between the screen's pixel grid and the sensor's: drifting fine stripes."""
    angle, period, speed = params
    sin, cos = _stripes(spec.width, spec.height, angle, period)
    shift = 2 * np.pi * speed * t
    depth = np.float32(0.12 * min(1.0, min(spec.width, spec.height) / 128) ** 2)  # faint when tiny
    pattern = 1.0 + depth * (sin * np.float32(np.cos(shift)) + cos * np.float32(np.sin(shift)))
    return cv2.merge([pattern * np.float32(g) for g in gains])


# ---------------------------------------------------------------- per-recording state and frames
@dataclass(eq=False)
class _Job:
    spec: RenderSpec
    seed: int
    rng: np.random.Generator
    mats: list[np.ndarray]
    surface: np.ndarray  # RGBA uint8, source coordinates
    live: np.ndarray | None  # RGBA uint8 the live face is drawn from (bona fide, cut-print holes)
    closure: np.ndarray
    talk: np.ndarray
    smile: np.ndarray
    light: np.ndarray  # RGB gain of the place's illumination
    plane: tuple[float, float, float]  # depth of a flat attack: level, x slope, y slope
    moire: tuple[float, float, float]
    holes: np.ndarray | None  # uint8 mask of the cut-outs, source coordinates
    background: np.ndarray | None  # uint8 RGB lit room (scenes)
    relief: np.ndarray
    levels: int  # pyramid levels the sources are reduced by before warping (anti-aliasing)
    warp_mats: list[np.ndarray]  # mats for the reduced sources


def _prepare(spec: RenderSpec, seed: int) -> _Job:
    if spec.attack_type not in ATTACKS:
        raise ValueError(f"attack_type {spec.attack_type!r}: expected one of {ATTACKS}")
    rng = rng_for(seed, "recording", spec.key)
    mats = _matrices(spec, seed, rng)
    moving = spec.attack_type in ("bonafide", "cut_print")
    closure = _blinks(rng, spec.n_frames) if moving else np.zeros(spec.n_frames, np.float32)
    talk, smile = _expressions(rng, spec.n_frames) if moving else (closure, closure)
    if spec.still:
        closure = talk = smile = np.zeros(spec.n_frames, np.float32)
    slope = 0.25 * 128 / max(spec.width, spec.height)
    plane = (rng.uniform(125, 150), rng.uniform(-slope, slope), rng.uniform(-slope, slope))
    moire = (rng.uniform(0, np.pi), rng.uniform(2.5, 4.5) + 0.3 * spec.variant,
             rng.uniform(0.1, 0.4))  # stripe angle, period (px), drift per frame
    room = _room(spec.place, spec.camera, seed, spec.width, spec.height) if spec.scene else None
    levels = int(np.clip(np.ceil(np.log2(0.5 / _base_scale(spec))), 0, 3))  # keep scale >= 0.5
    warp_mats = [np.hstack([m[:, :2] * 2 ** levels, m[:, 2:]]) for m in mats]
    surface, relief, holes = _static(_artefact_key(spec), seed, levels)
    return _Job(spec, seed, rng, mats, surface, _live_surface(spec, seed) if moving else None,
                closure, talk, smile, _light(spec.place, seed), plane, moire, holes, room, relief,
                levels, warp_mats)


def _live_face(live: np.ndarray | None) -> np.ndarray:
    assert live is not None, "bona fide recordings and cut prints have a live face"
    return live


def _live_at(job: _Job, t: int) -> np.ndarray:
    """The live face at frame t: edited in place, after restoring the untouched pixels."""
    x1, y1, x2, y2 = EDIT_BOX
    live = _live_face(job.live)
    pristine = identity(job.spec.subject, job.seed, job.spec.tone)[0]
    live[y1:y2, x1:x2, :3] = pristine[y1:y2, x1:x2]
    if job.closure[t] > 0:
        _close_eyes(live, float(job.closure[t]))
    _move_mouth(live, float(job.talk[t]), float(job.smile[t]))
    return _down(live, job.levels)


def _down(img: np.ndarray, levels: int) -> np.ndarray:
    """Halve ``levels`` times: warping a big source to a tiny frame would alias without it."""
    for _ in range(levels):
        img = cv2.pyrDown(img)
    return img


def _flat_depth(job: _Job, m: np.ndarray) -> np.ndarray:
    """A print or screen is a plane: constant plus a linear tilt (plus a shallow bend if curved)."""
    level, gx, gy = job.plane
    xx, yy = _grid(job.spec.width, job.spec.height)
    cx, cy = m[:, :2] @ HEAD_CENTER + m[:, 2]
    depth = level + gx * (xx - cx) + gy * (yy - cy)
    if job.spec.bent:
        depth += 10.0 * (1.0 - np.clip(((xx - cx) / (0.5 * job.spec.width)) ** 2, 0, 1))
    return depth


def _nir_luminance(rgb: np.ndarray, tone: str) -> np.ndarray:
    """Brightness the IR camera sees: the visible luminance with the skin tone divided back out."""
    return rgb.mean(-1) / np.float32(skin_tone(tone).mean())


def _crop_frame(job: _Job, t: int) -> dict[str, np.ndarray]:
    spec, m = job.spec, job.mats[t]
    kind = spec.attack_type
    live = _live_at(job, t) if job.live is not None else None
    out = _warp(job, _live_face(live) if kind == "bonafide" else job.surface, t)
    rgb, inside = out[..., :3], out[..., 3] >= 127.5
    rel = _warp(job, job.relief, t)
    lum = _nir_luminance(rgb, spec.tone)
    near = 95.0 + 300.0 * (np.sqrt(abs(np.linalg.det(m[:, :2]))) / np.sqrt(
        abs(np.linalg.det(job.mats[0][:, :2]))) - 1.0)  # nearer heads read brighter
    if kind in ("bonafide", "mask3d", "silicone"):
        depth = near + 110.0 * rel
        ir = {"bonafide": 25 + 0.5 * lum, "mask3d": 50 + 0.3 * lum,
              "silicone": 35 + 0.45 * lum}[kind] + 80.0 * rel
    else:
        depth = _flat_depth(job, m)
        ir = 6 + 0.05 * lum if kind == "replay" else 95 + 0.3 * lum
    if kind == "replay":
        rgb = rgb * _moire(spec, job.moire, t)
    if job.holes is not None:  # the attacker's own face shows through the cut-outs
        hole = _warp(job, job.holes, t)[..., None] / 255.0
        live_rgb = _warp(job, _live_face(live), t)[..., :3]
        rgb = rgb * (1 - hole) + 0.7 * live_rgb * hole  # the paper shades the face behind it
        hole = hole[..., 0]
        depth = depth * (1 - hole) + (near - 15.0 + 110.0 * rel) * hole
        ir = ir * (1 - hole) + (25 + 0.5 * _nir_luminance(live_rgb, spec.tone) + 80.0 * rel) * hole
    noise = _noise(job.rng, job.seed, spec.height, spec.width)
    planes = {"rgb": rgb * job.light + 2.0 * noise, "depth": depth + 1.5 * noise[..., 0],
              "ir": ir + 2.0 * noise[..., 1]}
    return {k: np.where(inside[..., None] if v.ndim == 3 else inside, np.clip(v, 0, 255), 0)
            .astype(np.uint8) for k, v in planes.items()}


def _scene_frame(job: _Job, t: int) -> dict[str, np.ndarray]:
    spec = job.spec
    assert job.background is not None, "a scene has a room"
    obj = _live_at(job, t) if spec.attack_type == "bonafide" else job.surface
    out = cv2.warpAffine(obj, job.warp_mats[t], (spec.width, spec.height), flags=cv2.INTER_LINEAR)
    rgb, alpha = cv2.cvtColor(out, cv2.COLOR_RGBA2RGB), out[..., 3].astype(np.float32) / 255.0
    gains, blur, sigma = _camera(spec.camera, job.seed)  # the room already went through them
    if spec.attack_type == "replay":  # a screen emits its own light: not lit by the room
        rgb = cv2.multiply(rgb, _moire(spec, job.moire, t, gains), dtype=cv2.CV_8U)
    else:
        rgb = cv2.LUT(rgb, _gain_lut(tuple((job.light * gains).tolist())))
    frame = cv2.GaussianBlur(cv2.blendLinear(job.background, rgb, 1.0 - alpha, alpha), (0, 0), blur)
    noise = _noise(job.rng, job.seed, spec.height, spec.width, sigma)  # uint8 around 128
    return {"rgb": cv2.addWeighted(frame, 1.0, noise, 1.0, -128.0)}


def render_stream(spec: RenderSpec, seed: int) -> tuple[Iterator[dict[str, np.ndarray]], np.ndarray, np.ndarray]:
    """The frames of one recording, rendered one at a time as they are consumed (a Full-HD video need
    not be held in memory), and its per-frame face boxes and eye positions."""
    job = _prepare(spec, seed)
    draw = _scene_frame if spec.scene else _crop_frame
    boxes, eyes = face_annotations(job.mats)
    return (draw(job, t) for t in range(spec.n_frames)), boxes, eyes


def render(spec: RenderSpec, seed: int) -> Rendered:
    """Render every frame of one recording and its per-frame face boxes and eye positions."""
    stream, boxes, eyes = render_stream(spec, seed)
    frames: dict[str, list[np.ndarray]] = {}
    for frame in stream:
        for modality, img in frame.items():
            frames.setdefault(modality, []).append(img)
    return Rendered(frames, boxes, eyes)
