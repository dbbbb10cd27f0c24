"""Makers of the strange and broken files a bulk scan meets in real image dumps."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
from PIL import Image

from visionguard.synth import photo, print_text


def _jpeg_bytes(image: Image.Image, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", **options)
    return buffer.getvalue()


def make_bad_inputs(folder: Path) -> dict[str, str]:
    """Write one file per kind of bad input; returns {file name: expected status}."""
    folder.mkdir(parents=True, exist_ok=True)
    base = photo("coffee", (320, 240))
    expected: dict[str, str] = {}

    def write(name: str, data: bytes, status: str) -> None:
        (folder / name).write_bytes(data)
        expected[name] = status

    full = _jpeg_bytes(base)
    write("corrupt.jpg", bytes(b ^ 0x5A for b in full[:2000]) + full[2000:], "error")
    write("truncated.jpg", full[: len(full) // 3], "error")
    # The middle of the compressed data cut out: Pillow decodes it whole, grey from the cut down.
    scan_start = full.index(b"\xff\xda")
    middle = (scan_start + len(full)) // 2
    write("damaged_middle.jpg", full[:middle] + full[middle + len(full) // 10:], "error")
    # Stray bytes before the end marker, as some cameras write: the picture is whole.
    write("extraneous_bytes.jpg", full[:-2] + b"\x00\x00\x00" + full[-2:], "ok")
    write("zero_bytes.png", b"", "error")
    write("not_an_image.jpg", b"%PDF-1.4 this is not an image\n" * 20, "error")
    bomb = io.BytesIO()
    Image.new("1", (10_000, 10_000)).save(bomb, "PNG")  # 100 Mpx, a few KB on disk
    write("bomb.png", bomb.getvalue(), "error")
    tiny = io.BytesIO()
    Image.new("RGB", (1, 1), (200, 10, 10)).save(tiny, "PNG")
    write("one_pixel.png", tiny.getvalue(), "ok")
    strip = io.BytesIO()
    Image.new("RGB", (20_000, 50), (30, 120, 200)).save(strip, "PNG")
    write("strip_20000x50.png", strip.getvalue(), "ok")
    write("cmyk.jpg", _jpeg_bytes(base.convert("CMYK")), "ok")
    sixteen = io.BytesIO()
    Image.fromarray((np.asarray(base.convert("L"), dtype=np.uint16) * 257)).save(sixteen, "PNG")
    write("sixteen_bit.png", sixteen.getvalue(), "ok")
    palette = base.convert("P", palette=Image.Palette.ADAPTIVE, colors=64)
    pal = io.BytesIO()
    palette.save(pal, "PNG", transparency=0)
    write("palette_transparent.png", pal.getvalue(), "ok")
    rgba = base.convert("RGBA")
    rgba.putalpha(128)
    rgba_bytes = io.BytesIO()
    rgba.save(rgba_bytes, "PNG")
    write("rgba.png", rgba_bytes.getvalue(), "ok")
    gif = io.BytesIO()
    frames = [base.convert("P"), photo("chelsea", (320, 240)).convert("P")]
    frames[0].save(gif, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    write("animated.gif", gif.getvalue(), "ok")
    write("rotated_exif.jpg", exif_rotated_jpeg(), "ok")
    write("broken_link.jpg", b"", "error")
    (folder / "broken_link.jpg").unlink()
    (folder / "broken_link.jpg").symlink_to(folder / "gone.jpg")
    non_utf8 = os.fsencode(str(folder)) + b"/caf\xe9_listing.jpg"
    with open(non_utf8, "wb") as handle:
        handle.write(full)
    expected["caf\\xe9_listing.jpg"] = "ok"
    return expected


def exif_rotated_jpeg() -> bytes:
    """'ADIBAS' printed upright, stored rotated by 90 degrees with EXIF orientation 6.

    A viewer (and a correct scanner) shows it upright; a scanner that ignores EXIF sees
    vertical text and reads nothing.
    """
    upright = print_text(photo("grass", (640, 480)), "ADIBAS", 0.12, (0.5, 0.5))
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # orientation 6 means: rotate 270 to view
    exif = Image.Exif()
    exif[0x0112] = 6
    return _jpeg_bytes(stored, exif=exif.tobytes(), quality=92)
