"""The user's own pictures as CIFAR-10 rows: PNG or JPEG -> 32x32 RGB -> (3072,) uint8.

An image is converted to RGB (an alpha channel is dropped, a palette expanded), cropped
to its centred square (CIFAR-10 pictures are square; nothing is stretched), and resized to
32x32 with Pillow's bicubic filter (which widens its support when shrinking, so it also
antialiases). The row is in the layout of the CIFAR-10 batches: the 1024 red values,
then green, then blue, each plane row-major (channel, row, column).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from handprop.errors import DataError

SIDE = 32
FORMATS = ("PNG", "JPEG")


def image_row(path: str | Path, side: int = SIDE) -> np.ndarray:
    """The picture in ``path`` as a CIFAR-layout row (3 * side * side,) of uint8 pixels.

    A missing, unreadable, truncated or non-PNG/JPEG file is a :class:`DataError`
    naming it.
    """
    from PIL import Image, UnidentifiedImageError  # imported on use: only ``predict``

    try:
        with Image.open(path, formats=FORMATS) as img:
            rgb = img.convert("RGB")
    except FileNotFoundError:
        raise DataError(f"image {path}: no such file") from None
    except IsADirectoryError:
        raise DataError(f"image {path}: is a folder, not an image") from None
    except UnidentifiedImageError:
        raise DataError(f"cannot read image {path}: not a PNG or JPEG image") from None
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as err:
        raise DataError(f"cannot read image {path}: {err}") from None
    width, height = rgb.size
    crop = min(width, height)
    left, top = (width - crop) // 2, (height - crop) // 2
    box = (left, top, left + crop, top + crop)
    small = rgb.resize((side, side), Image.Resampling.BICUBIC, box=box)
    hwc = np.asarray(small, dtype=np.uint8)
    return np.ascontiguousarray(hwc.transpose(2, 0, 1)).reshape(-1)
