"""Where the images come from: a folder walked recursively, in a stable order."""

from __future__ import annotations

import os
from typing import Iterator

from visionguard.errors import VisionGuardError

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"})


def is_image_name(name: str) -> bool:
    return os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS


def display_path(relative: str) -> str:
    """A printable, JSON-safe relative path with `/` separators.

    File names that are not valid UTF-8 arrive as surrogate escapes; they are shown with
    backslash escapes (e.g. `caf\\xe9.jpg`) rather than breaking the JSON line.
    """
    text = relative.replace(os.sep, "/")
    return os.fsencode(text).decode("utf-8", errors="backslashreplace")


def iter_image_files(root: str | os.PathLike) -> Iterator[tuple[str, str]]:
    """Yield (path to open, display path relative to root) for every image file under root."""
    root = os.fspath(root)
    if not os.path.exists(root):
        raise VisionGuardError(f"input folder '{root}' does not exist")
    if not os.path.isdir(root):
        raise VisionGuardError(f"input '{root}' is not a folder")
    for folder, subfolders, files in os.walk(root, onerror=None, followlinks=False):
        subfolders.sort()
        for name in sorted(files):
            if is_image_name(name):
                full = os.path.join(folder, name)
                yield full, display_path(os.path.relpath(full, root))


def count_image_files(root: str | os.PathLike) -> int:
    return sum(1 for _ in iter_image_files(root))

