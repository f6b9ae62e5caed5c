"""The user's pictures as CIFAR-10 rows: PNG or JPEG -> 32x32 RGB -> (3072,) uint8.

A picture is read as bytes, capped like the data files (a regular file of at most
:data:`MAX_BYTES` bytes and :data:`MAX_PIXELS` pixels, judged from its header before it is
decoded), then converted to 8-bit RGB by :func:`rgb8`: 16-bit grey scaled to 8 bits,
transparent parts shown on white, palettes expanded. It is cropped to its centred square
(CIFAR-10 pictures are square; nothing is stretched) and resized to 32x32 with Pillow's
bicubic filter (which widens its support when shrinking, so it also antialiases). The row
is in the layout of the CIFAR-10 batches: the 1024 red values, then green, then blue, each
plane row-major (channel, row, column).
"""

from __future__ import annotations

import io
import os
import stat
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from handprop.errors import DataError

if TYPE_CHECKING:
    from PIL import Image

SIDE = 32
FORMATS = ("PNG", "JPEG")
#: Largest picture file read (bytes) and decoded (pixels): a 33-megapixel photo.
MAX_BYTES = 64 * 2**20
MAX_PIXELS = 2**25
#: Pixel modes of 16-bit (or wider integer) grey, as Pillow reads 16-bit PNGs.
WIDE_GREY = ("I", "I;16", "I;16B", "I;16L", "I;16N")
#: Modes converted by Pillow itself (through RGBA, so that transparency is kept).
DIRECT = ("1", "L", "LA", "P", "PA", "RGB", "RGBA", "RGBa", "RGBX", "CMYK", "YCbCr")
WHITE = (255, 255, 255, 255)


def _read(path: str | Path) -> bytes:
    """The bytes of the regular file ``path``, at most :data:`MAX_BYTES` of them."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):  # before open: a FIFO would block it
            kind = "a folder" if os.path.isdir(path) else "not a regular file"
            raise DataError(f"image {path}: is {kind}, not an image")
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            blob = b"" if size > MAX_BYTES else f.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise DataError(f"image {path}: no such file") from None
    except OSError as err:
        raise DataError(f"cannot read image {path}: {err.strerror or err}") from None
    if max(size, len(blob)) > MAX_BYTES:
        raise DataError(f"image {path}: larger than the {MAX_BYTES:,} bytes a picture may have")
    return blob


def _grey8(img: Image.Image) -> Image.Image:
    """16-bit grey (0..65535) as 8-bit grey, rounded to the nearest level."""
    from PIL import Image

    wide = np.asarray(img).astype(np.uint32)
    return Image.fromarray(((np.minimum(wide, 65535) * 255 + 32767) // 65535).astype(np.uint8))


def rgb8(img: Image.Image, path: str | Path) -> Image.Image:
    """``img`` in 8-bit RGB: 16-bit grey scaled, transparency composited on white, other
    colour modes converted; a mode without a photo's meaning is a :class:`DataError`."""
    from PIL import Image

    if img.mode in WIDE_GREY:
        img = _grey8(img)
    if img.mode not in DIRECT:
        raise DataError(f"image {path}: pixel mode {img.mode} is not supported")
    if img.mode in ("LA", "P", "PA", "RGBA", "RGBa") or "transparency" in img.info:
        rgba = img.convert("RGBA")
        return Image.alpha_composite(Image.new("RGBA", rgba.size, WHITE), rgba).convert("RGB")
    return img.convert("RGB")


def image_row(path: str | Path, side: int = SIDE) -> np.ndarray:
    """The picture in ``path`` as a CIFAR-layout row (3 * side * side,) of uint8 pixels.

    A missing, unreadable, oversized, truncated or non-PNG/JPEG file is a
    :class:`DataError` naming it.
    """
    from PIL import Image, UnidentifiedImageError  # imported on use: only ``predict``

    blob = _read(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(blob), formats=FORMATS) as img:
                pixels = img.width * img.height
                if pixels > MAX_PIXELS:
                    raise DataError(
                        f"image {path}: {img.width}x{img.height} = {pixels:,} pixels, more "
                        f"than the {MAX_PIXELS:,} a picture may have"
                    )
                img.load()
                rgb = rgb8(img, path)
    except UnidentifiedImageError:
        raise DataError(f"cannot read image {path}: not a PNG or JPEG image") from None
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise DataError(
            f"image {path}: more than the {MAX_PIXELS:,} pixels a picture may have"
        ) from None
    except (OSError, ValueError, SyntaxError) as err:
        raise DataError(f"cannot read image {path}: {err}") from None
    width, height = rgb.size
    crop = min(width, height)
    left, top = (width - crop) // 2, (height - crop) // 2
    box = (left, top, left + crop, top + crop)
    small = rgb.resize((side, side), Image.Resampling.BICUBIC, box=box)
    hwc = np.asarray(small, dtype=np.uint8)
    return np.ascontiguousarray(hwc.transpose(2, 0, 1)).reshape(-1)
