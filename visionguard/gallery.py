"""Read a gallery folder: `GALLERY/<brand_id>/*.jpg|png` plus an optional `brands.json`.

Images under `GALLERY/<brand_id>/products/` are genuine product photos: they are indexed for
copy (near-duplicate) detection only, not as logo references (`copies_only`)."""

from __future__ import annotations

import json
import os
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from visionguard.errors import GalleryError
from visionguard.sources import display_path, is_image_name


@dataclass(frozen=True)
class Brand:
    """A brand in the catalogue: its folder id, display name and other names it goes by."""

    id: str
    name: str
    aliases: tuple[str, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)

    def to_dict(self) -> dict:
        return {"name": self.name, "aliases": list(self.aliases)}


@dataclass
class Gallery:
    root: Path
    brands: dict[str, Brand]
    images: list[tuple[str, str]] = field(default_factory=list)  # (gallery-relative path, brand id)
    #: brand id -> its name and aliases as brands.json gives them, folder or not in this gallery
    named: dict[str, Brand] = field(default_factory=dict)
    #: (gallery-relative path, why) of files in a logo format that is not read (`UNREAD_FORMATS`)
    unread: list[tuple[str, str]] = field(default_factory=list)


#: Formats brand teams keep logos in that are not decoded (no renderer ships here), with what
#: to do instead: a brand's SVG logo left out without a word would be a brand never matched.
UNREAD_FORMATS = {
    ".svg": "SVG", ".svgz": "SVG", ".eps": "EPS", ".ai": "Illustrator", ".pdf": "PDF", ".psd": "Photoshop",
}


def _unread_reason(path: Path) -> str | None:
    kind = UNREAD_FORMATS.get(path.suffix.lower())
    if kind is None:
        return None
    return f"{kind} files are not read: export the logo as PNG (about 512 px wide, on a plain or transparent background)"


#: Sub-folder of a brand folder whose images are found as copies but are not logo references.
PRODUCTS_FOLDER = "products"


def copies_only(relative_path: str) -> bool:
    """Whether a gallery image (`<brand_id>/...` path) is a product photo, used for copies only.

    A photo's logo vector describes its scene, and the logo model puts scenes without a logo
    close together: a product photo among the logo references matched most logo-free listing
    photos above the logo threshold (README, "Gallery: logos and product photos")."""
    parts = relative_path.split("/")
    return len(parts) > 2 and parts[1] == PRODUCTS_FOLDER


def default_display_name(brand_id: str) -> str:
    return brand_id.replace("-", " ").replace("_", " ").strip()


def read_gallery(root: str | os.PathLike) -> Gallery:
    """List the gallery's brands and images; every user mistake becomes one GalleryError."""
    root = Path(root)
    if not root.exists():
        raise GalleryError(f"gallery folder '{root}' does not exist")
    if not root.is_dir():
        raise GalleryError(f"gallery '{root}' is not a folder")
    brand_dirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not brand_dirs:
        raise GalleryError(f"gallery '{root}' has no brand folders; expected GALLERY/<brand_id>/<images>")
    overrides = _match_folders(_read_brands_json(root / "brands.json"), [p.name for p in brand_dirs], root / "brands.json")
    brands: dict[str, Brand] = {}
    images: list[tuple[str, str]] = []
    unread: list[tuple[str, str]] = []
    for brand_dir in brand_dirs:
        files, other = [], []
        for p in sorted(brand_dir.rglob("*")):
            if p.is_file() and not p.name.startswith("."):
                (files if is_image_name(p.name) else other).append(p)
        for p in other:
            reason = _unread_reason(p)
            if reason is not None:
                unread.append((display_path(os.path.relpath(p, root)), reason))
        if not files:
            kinds = sorted({UNREAD_FORMATS[p.suffix.lower()] for p in other if p.suffix.lower() in UNREAD_FORMATS})
            hint = f" (its {' and '.join(kinds)} files are not read: export the logos as PNG)" if kinds else ""
            raise GalleryError(f"brand folder '{brand_dir.name}' in gallery '{root}' has no images{hint}")
        brands[brand_dir.name] = _brand(brand_dir.name, overrides.get(brand_dir.name, {}))
        images.extend((display_path(os.path.relpath(p, root)), brand_dir.name) for p in files)
    named = {brand_id: _brand(brand_id, info) for brand_id, info in overrides.items()}
    return Gallery(root=root, brands=brands, images=images, named=named, unread=unread)


def _brand(brand_id: str, info: dict) -> Brand:
    return Brand(
        id=brand_id,
        name=str(info.get("name") or default_display_name(brand_id)),
        aliases=tuple(str(a) for a in info.get("aliases", [])),
    )


def _match_folders(overrides: dict[str, dict], folders: list[str], path: Path) -> dict[str, dict]:
    """brands.json's entries keyed by brand folder name. A key that is the folder's name in
    another Unicode form (macOS writes file names decomposed) is that folder; one that differs
    from a folder only in case, spaces, - or _ is a mistake that would leave the brand with its
    folder name as display name and no aliases, silently: one sentence."""
    by_form = {unicodedata.normalize("NFC", name): name for name in folders}
    loose = {loose_name(name): name for name in folders}
    matched: dict[str, dict] = {}
    for key, info in overrides.items():
        folder = key if key in folders else by_form.get(unicodedata.normalize("NFC", key))
        if folder is not None:
            matched[folder] = info
        elif loose_name(key) in loose:
            raise GalleryError(
                f"'{path}' names brand '{key}', but its folder is '{loose[loose_name(key)]}': brands.json's keys are "
                "the brand folders' names, letter for letter"
            )
        else:
            matched[key] = info  # a brand not in this gallery (a new-images folder for `index add`)
    return matched


def loose_name(name: str) -> str:
    """A brand id with case, spaces, - and _ ignored: how a mistyped brands.json key is recognised."""
    return "".join(c for c in unicodedata.normalize("NFC", name).casefold() if c not in " -_")


def _read_brands_json(path: Path) -> dict[str, dict]:
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise GalleryError(f"cannot read '{path}': {error}") from None
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise GalleryError(
            f"'{path}' must map brand ids to objects, e.g. "
            '{"louis-vuitton": {"name": "Louis Vuitton", "aliases": ["LV"]}}'
        )
    for brand_id, info in data.items():
        aliases = info.get("aliases", [])
        if not isinstance(aliases, list) or not all(isinstance(a, str) and a.strip() for a in aliases):
            raise GalleryError(f"'{path}': aliases of '{brand_id}' must be a list of non-empty strings")
        if not isinstance(info.get("name", ""), str):
            raise GalleryError(f"'{path}': the name of '{brand_id}' must be a string")
    return data
