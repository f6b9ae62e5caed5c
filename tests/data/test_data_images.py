"""The user's pictures in every pixel mode Pillow reads from PNG and JPEG, and the caps on
what ``predict`` reads."""

from __future__ import annotations

import io
import os
import sys
import warnings

import numpy as np
import pytest
from PIL import Image

from handprop.data import images
from handprop.data.images import image_row, rgb8
from handprop.errors import DataError

SIDE = 8


def solid(mode: str, value) -> Image.Image:
    return Image.new(mode, (SIDE, SIDE), value)


def palette(grey: int, transparent: bool) -> Image.Image:
    img = Image.new("P", (SIDE, SIDE), 1)
    img.putpalette([0, 0, 0, grey, grey, grey] + [0] * 762)
    if transparent:
        img.info["transparency"] = 1
    return img


def grey_with_trns() -> Image.Image:
    img = solid("L", 128)
    img.info["transparency"] = 128
    return img


#: (how the file is made, format, the grey level every pixel must read as)
FILES = [
    ("L", lambda: solid("L", 128), "PNG", 128),
    ("1 white", lambda: solid("1", 1), "PNG", 255),
    ("1 black", lambda: solid("1", 0), "PNG", 0),
    ("I;16 half", lambda: solid("I;16", 32768), "PNG", 128),
    ("I;16 full", lambda: solid("I;16", 65535), "PNG", 255),
    ("I;16 dark", lambda: solid("I;16", 257 * 10), "PNG", 10),
    ("I;16B", lambda: solid("I;16B", 32768), "PNG", 128),
    ("LA opaque", lambda: solid("LA", (128, 255)), "PNG", 128),
    ("LA transparent", lambda: solid("LA", (0, 0)), "PNG", 255),
    ("LA half", lambda: solid("LA", (0, 128)), "PNG", 127),
    ("P", lambda: palette(128, False), "PNG", 128),
    ("P transparent", lambda: palette(0, True), "PNG", 255),
    ("L with tRNS", grey_with_trns, "PNG", 255),
    ("RGB", lambda: solid("RGB", (128, 128, 128)), "PNG", 128),
    ("RGBA opaque", lambda: solid("RGBA", (128, 128, 128, 255)), "PNG", 128),
    ("RGBA transparent", lambda: solid("RGBA", (0, 0, 0, 0)), "PNG", 255),
    ("RGB JPEG", lambda: solid("RGB", (128, 128, 128)), "JPEG", 128),
    ("L JPEG", lambda: solid("L", 128), "JPEG", 128),
    ("CMYK JPEG", lambda: solid("CMYK", (0, 0, 0, 127)), "JPEG", 128),
]


@pytest.mark.parametrize(("name", "make", "fmt", "grey"), FILES, ids=[f[0] for f in FILES])
def test_every_file_mode_reads_as_its_8_bit_grey(tmp_path, name, make, fmt, grey):
    img = make()
    path = tmp_path / f"p.{fmt.lower()}"
    img.save(
        path,
        fmt,
        **({"transparency": img.info["transparency"]} if "transparency" in img.info else {}),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        row = image_row(path)
    assert row.dtype == np.uint8 and row.shape == (3072,)
    tolerance = 1 if fmt == "JPEG" or "half" in name else 0
    assert np.abs(row.astype(int) - grey).max() <= tolerance, (name, np.unique(row))


#: Modes no PNG or JPEG file gives, converted in memory: (mode, pixel, grey).
MEMORY = [
    ("I", 32768, 128),
    ("I;16L", 32768, 128),
    ("I;16N", 65535, 255),
    ("PA", None, 0),
    ("RGBa", (64, 64, 64, 128), 191),  # (128, 128, 128) at half alpha, on white
    ("RGBX", (128, 128, 128, 0), 128),
    ("YCbCr", (128, 128, 128), 128),
]


@pytest.mark.parametrize(("mode", "value", "grey"), MEMORY, ids=[m[0] for m in MEMORY])
def test_other_modes_convert_to_8_bit_rgb(mode, value, grey):
    img = solid(mode, value) if value is not None else palette(0, False).convert("PA")
    rgb = np.asarray(rgb8(img, "x"))
    assert rgb.dtype == np.uint8 and rgb.shape == (SIDE, SIDE, 3)
    assert np.abs(rgb.astype(int) - grey).max() <= 1, (mode, np.unique(rgb))


@pytest.mark.parametrize("mode", ["F", "La", "LAB", "HSV"])
def test_modes_without_a_meaning_as_a_photo_are_refused(mode):
    with pytest.raises(DataError, match=f"pixel mode {mode} is not supported"):
        rgb8(Image.new(mode, (SIDE, SIDE)), "x.png")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs")
def test_a_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    with pytest.raises(DataError, match="not a regular file"):
        image_row(fifo)


def test_an_image_over_the_pixel_cap_is_refused_from_its_header(tmp_path, monkeypatch):
    monkeypatch.setattr(images, "MAX_PIXELS", 1000)
    path = tmp_path / "big.png"
    Image.new("L", (40, 30)).save(path)
    with pytest.raises(DataError, match="1,200 pixels, more than the 1,000"):
        image_row(path)


def test_an_image_over_the_byte_cap_is_refused_before_reading(tmp_path, monkeypatch):
    monkeypatch.setattr(images, "MAX_BYTES", 100)
    path = tmp_path / "noise.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (32, 32), np.uint8)).save(path)
    with pytest.raises(DataError, match="larger than the 100 bytes"):
        image_row(path)


def test_a_bomb_is_one_error_and_no_warning(tmp_path):
    """A PNG over Pillow's warning limit (but under its error limit) is refused silently."""
    side = int((Image.MAX_IMAGE_PIXELS * 1.5) ** 0.5)
    path = tmp_path / "bomb.png"
    buffer = io.BytesIO()
    Image.new("1", (side, side)).save(buffer, "PNG")
    path.write_bytes(buffer.getvalue())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(DataError, match="pixels a picture may have"):
            image_row(path)


def test_the_predict_cli_says_one_line_for_a_fifo(tmp_path, capsys):
    if sys.platform == "win32":
        pytest.skip("FIFOs")
    from handprop.cli import main

    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    run = tmp_path / "run"
    run.mkdir()
    assert main(["predict", str(run), str(fifo)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "not a regular file" in err
