"""A sample's key and members: ``KEY.rgb.npy``, ``KEY.rgb_di.npy``, …, ``KEY.json``.

WebDataset groups a tar's members into samples by the part of the name before the first dot, so a
key holds no dot (``real.rssdk`` must never reach one) and no slash; the extension names the image
and its format (``rgb.npy``: the RGB static crop as an npy array; ``depth_di.png``: the depth dynamic
image as PNG).
"""
from __future__ import annotations

import hashlib
import re
from typing import Any

from .images import IMAGE_FORMATS

#: A sample key: the recording id and window, e.g. ``1_120_1_1_1_w003``.
KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")


def sample_key(video_id: str, window: int) -> str:
    key = f"{video_id}_w{window:03d}"
    if not KEY.match(key):
        raise ValueError(f"sample key {key!r}: only letters, digits, '_' and '-' (no dots, no slashes)")
    return key


def image_names(modality: str) -> tuple[str, str]:
    """The two images a sample holds per modality: the static crop and its dynamic image."""
    return modality, f"{modality}_di"


def split_member_name(name: str) -> tuple[str, str]:
    """``KEY.rgb.npy`` → (``KEY``, ``rgb.npy``): WebDataset's rule, the key ends at the first dot."""
    key, _, extension = name.partition(".")
    return key, extension


def image_member(members: dict[str, Any], name: str) -> bytes | None:
    """The bytes of image ``name`` (``rgb``, ``rgb_di``, …) among a sample's members, whatever its format."""
    for extension in IMAGE_FORMATS:
        if f"{name}.{extension}" in members:
            return members[f"{name}.{extension}"]
    return None


def payload_digest(members: dict[str, bytes]) -> str:
    """sha256 over the sample's members in name order: what verify recomputes from the tar."""
    digest = hashlib.sha256()
    for name in sorted(members):
        digest.update(name.encode() + b"\0" + hashlib.sha256(members[name]).digest())
    return digest.hexdigest()
