"""How a sample's images are stored: npy (the raw uint8 array), png (lossless) or jpg (lossy).

npy is about 2–3 times the bytes of png, but nearly free to encode and several times faster to
decode. Reading tells the format by the bytes, not the member name, and never unpickles anything.
"""
from __future__ import annotations

import io
import math
from functools import lru_cache

import numpy as np

IMAGE_FORMATS = ("png", "jpg", "npy")
#: The first bytes of every ``np.save`` file: how an npy member is told from PNG or JPEG.
NPY_MAGIC = b"\x93NUMPY"


def encode_image(image: np.ndarray, image_format: str = "npy", png_compression: int = 3,
                 jpeg_quality: int = 95) -> bytes:
    """Encode an RGB or grey uint8 image; npy stores the array as is (RGB order, readable with
    ``np.load(..., allow_pickle=False)``), png and jpg go through OpenCV."""
    import cv2

    if image_format == "npy":
        buffer = io.BytesIO()
        np.save(buffer, np.ascontiguousarray(image), allow_pickle=False)
        return buffer.getvalue()
    if image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    if image_format == "png":
        ok, data = cv2.imencode(".png", image, [cv2.IMWRITE_PNG_COMPRESSION, png_compression])
    elif image_format == "jpg":
        ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality])
    else:
        raise ValueError(f"unknown image format {image_format!r}: expected one of {IMAGE_FORMATS}")
    if not ok:
        raise RuntimeError(f"OpenCV could not encode a {image.shape} image as {image_format}")
    return data.tobytes()


def decode_image(data: bytes) -> np.ndarray:
    """The inverse of :func:`encode_image`: an RGB (H, W, 3) or grey (H, W) uint8 image.

    npy is recognised by its magic (a read-only view of the bytes; object arrays are refused, nothing
    is unpickled), anything else goes through OpenCV. Raises ValueError.
    """
    import cv2

    image: np.ndarray | None
    if data.startswith(NPY_MAGIC):
        try:
            image = _npy(data)
        except (ValueError, EOFError) as error:
            raise ValueError(f"npy array does not load ({error})") from None
        if image.dtype != np.uint8 or image.ndim not in (2, 3):
            raise ValueError(f"npy array {image.dtype} {image.shape} is not a uint8 image")
        return image
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise ValueError("image does not decode")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB) if image.ndim == 3 else image


def _npy(data: bytes) -> np.ndarray:
    """An npy member as a read-only view of its bytes: no copy, and no object arrays (never unpickled)."""
    version = data[6:8]
    if version == b"\x01\x00":
        end = 10 + int.from_bytes(data[8:10], "little")
    elif version in (b"\x02\x00", b"\x03\x00"):
        end = 12 + int.from_bytes(data[8:12], "little")
    else:
        raise ValueError(f"npy format version {tuple(version)} is not supported")
    shape, fortran, dtype = _npy_header(data[:end])
    if not shape or min(shape) <= 0 or len(data) != end + math.prod(shape) * dtype.itemsize:
        raise ValueError(f"shape {shape} does not match the {len(data) - end} bytes of data")
    array = np.frombuffer(data, dtype, math.prod(shape), offset=end)
    return array.reshape(shape[::-1]).T if fortran else array.reshape(shape)


@lru_cache(maxsize=64)
def _npy_header(header: bytes) -> tuple[tuple[int, ...], bool, np.dtype]:
    """(shape, Fortran order, dtype) of an npy header, parsed by numpy once per distinct header: its
    ``literal_eval`` was over half the cost of reading a 128 px crop, and a shard's crops share a few headers."""
    stream = io.BytesIO(header)
    version = np.lib.format.read_magic(stream)
    read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    shape, fortran, dtype = read(stream)
    if dtype.hasobject:
        raise ValueError("npy member holds Python objects: refused, it would need unpickling")
    return shape, fortran, dtype
