"""Training data: brand logos composed into listing-like photos, and copy edits of photos.

Sources
- `simple-icons` (npm, CC0): one SVG glyph and one brand colour per brand, rendered with
  cairosvg into an alpha mask that is coloured at composition time.
- An ImageFolder of a team's own brand imagery, `<brand>/*.jpg|png`: each image is used as a
  logo (PNG alpha kept) or, without alpha, as a sticker/patch.
- Extra training classes that are no brand: Font Awesome Free's icons (npm, CC-BY-4.0) and
  made-up words drawn in one font each (`load_icons`, `make_wordmarks`).
- Backgrounds: photographs from Debian wallpaper packages (`training/fetch_data.sh`) and
  scikit-image's bundled samples.

Everything is drawn from a seeded `numpy.random.Generator`, so a seed rebuilds the same set.
Views are square `size`x`size` RGB uint8 arrays, as the model sees them: logo views mimic the
scan's crop windows (a logo 20-90% of the window, any aspect squashed to a square), gallery
views mimic what users put in a gallery (a clean logo on white or on a brand-colour plate).
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from visionguard.decode import LIGHT_CONTENT, decode, luminance
from visionguard.errors import DecodeError, VisionGuardError
from visionguard.sources import is_image_name

#: scikit-image samples in colour (public domain / CC0), used as backgrounds.
SKIMAGE_PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "cat", "immunohistochemistry", "retina",
                  "brick", "grass", "gravel", "hubble_deep_field", "camera")
GALLERY_STYLES = ("colour", "black", "plate")


@dataclass
class Logo:
    """One brand image: RGBA, alpha = the mark. `colour` is the brand colour (RGB)."""

    brand: str
    rgba: np.ndarray
    colour: tuple[int, int, int]
    recolourable: bool  # a one-colour glyph (simple-icons) may be drawn in any colour


# -- sources ----------------------------------------------------------------------------


def render_svg_mask(svg: str, size: int = 256) -> np.ndarray:
    """Render a one-colour SVG to an alpha mask (uint8, HxW), `size` px on the longer side."""
    import cairosvg

    svg = re.sub(r"<svg ", '<svg fill="#000000" ', svg, count=1)
    png = cairosvg.svg2png(bytestring=svg.encode(), output_width=size)
    alpha = np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"))[:, :, 3]
    ys, xs = np.nonzero(alpha > 8)
    if len(xs) == 0:
        return alpha
    return alpha[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]


def load_simple_icons(folder: str | Path, cache: str | Path | None = None, size: int = 256) -> list[Logo]:
    """All simple-icons glyphs as logos; renders are cached as PNG masks under `cache`."""
    folder = Path(folder)
    meta = json.loads((folder / "data" / "simple-icons.json").read_text(encoding="utf-8"))
    icons = meta["icons"] if isinstance(meta, dict) else meta
    cache_dir = Path(cache) if cache else None
    if cache_dir:
        cache_dir.mkdir(parents=True, exist_ok=True)
    logos = []
    for icon in icons:
        slug = icon.get("slug") or _slugify(icon["title"])
        mask = _glyph_mask(folder / "icons" / f"{slug}.svg", cache_dir / f"{slug}.png" if cache_dir else None, size)
        if mask is None:
            continue
        colour = tuple(int(icon["hex"][i : i + 2], 16) for i in (0, 2, 4))
        logos.append(_glyph(slug, mask, colour))
    return logos


def load_image_folder(folder: str | Path) -> list[Logo]:
    """A team's own imagery, `<brand>/*.jpg|png`; transparent PNGs are used as glyphs. Files
    that do not decode are skipped with a warning naming them."""
    folder = Path(folder)
    if not folder.is_dir():
        raise VisionGuardError(f"image folder '{folder}' {'is not a folder' if folder.exists() else 'does not exist'}")
    logos = []
    for brand_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
        for path in sorted(brand_dir.rglob("*")):
            if not (path.is_file() and is_image_name(path.name)):
                continue
            try:
                with Image.open(path) as image:
                    image.load()
                    has_alpha = image.mode in ("RGBA", "LA") or "transparency" in image.info
                    rgba = np.asarray(image.convert("RGBA")) if has_alpha else None
                if rgba is None:
                    rgb = decode(path)
                    rgba = np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)])
            except (OSError, ValueError, SyntaxError, DecodeError) as error:  # Pillow's ways of refusing a file
                print(f"warning: skipped {path}: {error}", file=sys.stderr)
                continue
            colour = _dominant_colour(rgba)
            logos.append(Logo(brand_dir.name, rgba, colour, recolourable=False))
    if not logos:
        raise VisionGuardError(f"image folder '{folder}' has no readable images in <brand>/ subfolders")
    return logos


def load_icons(folder: str | Path, cache: str | Path | None = None, size: int = 256) -> list[Logo]:
    """Font Awesome Free's solid and regular icons (npm `@fortawesome/fontawesome-free`, CC-BY-4.0)
    as extra training classes, `fa-<name>`: shapes that are no brand, so a model learns to tell
    marks apart by more than the brands it is given. Its `brands` set is left out: those are
    real brands, some of them held out of the simple-icons split. The solid and regular
    drawings of one icon are one class (two logos), colours are made up from the name."""
    folder = Path(folder) / "svgs"
    cache_dir = Path(cache) if cache else None
    if cache_dir:
        cache_dir.mkdir(parents=True, exist_ok=True)
    logos = []
    for style in ("solid", "regular"):
        for svg_path in sorted((folder / style).glob("*.svg")):
            name = svg_path.stem
            mask = _glyph_mask(svg_path, cache_dir / f"fa-{style}-{name}.png" if cache_dir else None, size)
            if mask is not None:
                logos.append(_glyph(f"fa-{name}", mask, _made_up_colour(name)))
    return logos


def make_wordmarks(fonts: list[str | Path], count: int, seed: int = 0, height: int = 96) -> list[Logo]:
    """`count` made-up words, each drawn once in one font, as extra training classes `wm-<word>`:
    wordmarks are most of the brands a gallery holds, and simple-icons has only ~2,800 to train
    on. Words are pronounceable syllables (3-10 letters, upper, title or lower case), unique."""
    rng = np.random.default_rng(seed)
    fonts = [str(f) for f in fonts if _draws_latin(str(f))]
    if not fonts:
        raise ValueError("no usable fonts for wordmarks")
    onsets = "b c d f g h j k l m n p r s t v w z br cr dr fl gr kl pr st tr sh ch".split()
    vowels = "a e i o u y ai ea io ou".split()
    seen: set[str] = set()
    logos = []
    while len(logos) < count:
        word = "".join(rng.choice(onsets) + rng.choice(vowels) for _ in range(int(rng.integers(1, 4))))
        if rng.random() < 0.5:
            word += str(rng.choice(list("nrstlxkm")))
        word = word[:10]
        if len(word) < 3 or word in seen:
            continue
        seen.add(word)
        case = rng.random()
        text = word.upper() if case < 0.45 else word.title() if case < 0.8 else word
        font = ImageFont.truetype(fonts[int(rng.integers(len(fonts)))], height)
        left, top, right, bottom = font.getbbox(text)
        canvas = Image.new("L", (right - left + 8, bottom - top + 8), 0)
        ImageDraw.Draw(canvas).text((4 - left, 4 - top), text, font=font, fill=255)
        mask = np.asarray(canvas)
        ys, xs = np.nonzero(mask > 8)
        if len(xs) == 0:
            continue
        mask = mask[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
        logos.append(_glyph(f"wm-{word}", mask, _made_up_colour(word)))
    return logos


def load_brands(simple_icons: str | Path | None, image_folder: str | Path | None,
                masks: str | Path | None) -> dict[str, list[Logo]]:
    """Every brand's logos from simple-icons (glyph renders cached under `masks`) and/or a
    team's ImageFolder, by brand name."""
    logos = load_simple_icons(simple_icons, cache=masks) if simple_icons else []
    if image_folder:
        logos += load_image_folder(image_folder)
    by_brand: dict[str, list[Logo]] = {}
    for logo in logos:
        by_brand.setdefault(logo.brand, []).append(logo)
    return by_brand


def load_photos(folder: str | Path | None, max_side: int = 1600) -> list[np.ndarray]:
    """Background photographs: files under `folder` plus scikit-image's colour samples."""
    photos, exported = [], {}
    if folder and not Path(folder).is_dir():
        raise VisionGuardError(f"photo folder '{folder}' does not exist")
    if folder:
        for path in sorted(Path(folder).iterdir()):
            if path.name.startswith("skimage--"):  # a sample exported by `export_skimage_photos`
                exported[path.stem.removeprefix("skimage--")] = path
            elif is_image_name(path.name):
                try:
                    photos.append(_limit(decode(path), max_side))
                except DecodeError as error:
                    print(f"warning: skipped photo {path}: {error}", file=sys.stderr)
    from skimage import data

    for name in SKIMAGE_PHOTOS:  # same order with or without exported copies
        array = decode(exported[name]) if name in exported else getattr(data, name)()
        if array.ndim == 2:
            array = np.dstack([array] * 3)
        photos.append(_limit(np.ascontiguousarray(array[:, :, :3]), max_side))
    return photos


def export_skimage_photos(folder: str | Path) -> None:
    """Write the scikit-image samples into `folder` as PNG, for a machine whose scikit-image
    would have to download some of them; `load_photos` then reads these files in their place."""
    from skimage import data

    for name in SKIMAGE_PHOTOS:
        array = getattr(data, name)()
        if array.ndim == 2:
            array = np.dstack([array] * 3)
        Image.fromarray(np.ascontiguousarray(array[:, :, :3])).save(Path(folder) / f"skimage--{name}.png")


def split_brands(brands: list[str], held_out: float = 0.2, salt: str = "visionguard") -> tuple[list[str], list[str]]:
    """Split by brand with a stable hash: a brand is in training or held out, never both."""
    train, test = [], []
    for brand in sorted(set(brands)):
        value = int(hashlib.sha1(f"{salt}:{brand}".encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
        (test if value < held_out else train).append(brand)
    return train, test


def split_photos(photos: list[np.ndarray], every: int = 5) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Every `every`-th photo is held out for evaluation backgrounds and near-duplicates."""
    held = [p for i, p in enumerate(photos) if i % every == every - 1]
    return [p for i, p in enumerate(photos) if i % every != every - 1], held


# -- composition ------------------------------------------------------------------------


def gallery_view(logo: Logo, style: str, size: int | None = 256) -> np.ndarray:
    """A clean gallery image as users make them: the logo on white (on black when the brand
    colour is near-white: white on white was a blank image), or on a brand plate; the mark
    with 15% of its longer side around it, squashed to `size` x `size` as a model sees it, or
    (None) in its own aspect, as a file is saved."""
    if not logo.recolourable and logo.rgba[:, :, 3].min() == 255:  # a photo or JPEG logo: it has its own background
        mark, background = logo.rgba, _border_colour(logo.rgba)  # (a grey logo on white got a black frame)
    elif style == "colour" or not logo.recolourable:
        light = float(luminance(logo.colour)) >= LIGHT_CONTENT
        mark, background = _coloured(logo, logo.colour), (0, 0, 0) if light else (255, 255, 255)
    elif style == "black":
        mark, background = _coloured(logo, (0, 0, 0)), (255, 255, 255)
    else:  # plate: white mark on the brand colour (or black on a light brand colour)
        light = sum(logo.colour) > 600
        mark, background = _coloured(logo, (0, 0, 0) if light else (255, 255, 255)), logo.colour
    pad = round(max(mark.shape[:2]) * 0.15)
    canvas = np.empty((mark.shape[0] + 2 * pad, mark.shape[1] + 2 * pad, 3), np.uint8)
    canvas[:] = background
    _alpha_paste(canvas, mark, pad, pad)
    return canvas if size is None else _square(canvas, size)  # None: as a file is saved, not squashed


def logo_view(logo: Logo, photos: list[np.ndarray], rng: np.random.Generator, size: int = 128,
              scale: tuple[float, float] = (0.2, 0.9)) -> np.ndarray:
    """A scan crop window showing the logo on a photo, with listing-photo distortions."""
    window_w = int(rng.integers(160, 420))
    window_h = int(np.clip(window_w * math.exp(rng.uniform(-0.5, 0.5)), 120, 480))
    canvas = _background(photos, rng, window_w, window_h)
    mark = _styled_mark(logo, canvas, rng)
    width = window_w * math.exp(rng.uniform(math.log(scale[0]), math.log(scale[1])))
    mark = _warp(_fit(mark, max(12, int(width)), int(window_h * 0.95)), rng)
    if rng.random() < 0.25:
        mark = _occlude(mark, rng)
    x, y = _place(rng, mark, window_w, window_h, overhang=0.1)
    if rng.random() < 0.3:  # soft shadow, as on stickers and printed tags
        shadow = mark.copy()
        shadow[:, :, :3] = 0
        shadow[:, :, 3] = cv2.GaussianBlur(shadow[:, :, 3], (0, 0), 3) // 3
        _alpha_paste(canvas, shadow, x + 3, y + 3)
    _alpha_paste(canvas, mark, x, y)
    return _finish(canvas, rng, size)


def background_view(photos: list[np.ndarray], rng: np.random.Generator, size: int = 128) -> np.ndarray:
    """A crop window of a logo-free photo, distorted like the logo views."""
    window_w = int(rng.integers(160, 420))
    window_h = int(np.clip(window_w * math.exp(rng.uniform(-0.5, 0.5)), 120, 480))
    return _finish(_background(photos, rng, window_w, window_h), rng, size)


def listing_photo(logo: Logo | None, photos: list[np.ndarray], rng: np.random.Generator,
                  size: tuple[int, int] = (800, 600), scale: tuple[float, float] = (0.1, 0.6),
                  plain: float = 0.05) -> np.ndarray:
    """A whole listing photo with the logo at `scale` of the photo width (for end-to-end tests);
    `plain` is the chance of a plain-colour background instead of a photo."""
    canvas = _background(photos, rng, *size, plain=plain)
    if logo is not None:
        mark = _styled_mark(logo, canvas, rng)
        mark = _fit(mark, max(12, int(size[0] * rng.uniform(*scale))), int(size[1] * 0.9))
        mark = _warp(mark, rng, strength=0.5)
        x, y = _place(rng, mark, *size, overhang=0.0)
        _alpha_paste(canvas, mark, x, y)
    return _jpeg(canvas, int(rng.integers(60, 95)))


def photo_instance(photos: list[np.ndarray], rng: np.random.Generator, size: tuple[int, int] = (640, 480)) -> np.ndarray:
    """A distinct 'product photo': a random crop of a random photograph."""
    return _background(photos, rng, *size)


def copy_edit(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """What a copy shop does to an official photo: crop 5-20%, resize, watermark, frame, re-encode."""
    out = image
    height, width = out.shape[:2]
    if rng.random() < 0.7:
        keep = 1.0 - rng.uniform(0.05, 0.2)
        ch, cw = int(height * math.sqrt(keep)), int(width * math.sqrt(keep))
        y, x = int(rng.integers(0, height - ch + 1)), int(rng.integers(0, width - cw + 1))
        out = out[y : y + ch, x : x + cw]
    scale = rng.uniform(0.4, 1.1)
    out = cv2.resize(out, (max(32, int(out.shape[1] * scale)), max(32, int(out.shape[0] * scale))), interpolation=cv2.INTER_AREA)
    if rng.random() < 0.5:
        out = _watermark(out, rng)
    if rng.random() < 0.5:
        border = int(max(out.shape[:2]) * rng.uniform(0.02, 0.1))
        colour = [int(c) for c in (rng.integers(0, 256, 3) if rng.random() < 0.3 else [255] * 3)]
        out = cv2.copyMakeBorder(out, border, border, border, border, cv2.BORDER_CONSTANT, value=colour)
    if rng.random() < 0.3:
        out = np.clip(out.astype(np.float32) * rng.uniform(0.85, 1.15) + rng.uniform(-15, 15), 0, 255).astype(np.uint8)
    return _jpeg(out, int(rng.integers(30, 96)))


# -- helpers ----------------------------------------------------------------------------


def _glyph_mask(svg_path: Path, cached: Path | None, size: int) -> np.ndarray | None:
    """An SVG's alpha mask, from the render of an earlier run when `cached` exists (then the SVGs
    need not travel), else rendered and cached; None for a missing SVG or an empty or hair-thin
    glyph (nothing to learn)."""
    if cached and cached.exists():
        mask = np.asarray(Image.open(cached))
    elif not svg_path.exists():
        return None
    else:
        mask = render_svg_mask(svg_path.read_text(encoding="utf-8"), size)
        if cached:
            Image.fromarray(mask).save(cached)
    return None if mask.size == 0 or (mask > 8).mean() < 0.02 else mask


def _glyph(brand: str, mask: np.ndarray, colour: tuple[int, int, int]) -> Logo:
    rgba = np.zeros(mask.shape + (4,), np.uint8)
    rgba[:, :, :3] = colour
    rgba[:, :, 3] = mask
    return Logo(brand, rgba, colour, recolourable=True)


def _draws_latin(font_path: str) -> bool:
    """False for symbol fonts and fonts that draw every Latin letter as the same box."""
    if "Symbol" in Path(font_path).name or "D050000L" in Path(font_path).name:  # D050000L: URW's dingbats
        return False
    font = ImageFont.truetype(font_path, 40)
    first, second = np.asarray(font.getmask("Rab")), np.asarray(font.getmask("Qxz"))
    return not (first.shape == second.shape and (first == second).all())


def _made_up_colour(name: str) -> tuple[int, int, int]:
    """A stable, saturated colour for a class that has no brand colour."""
    hue = int(hashlib.sha256(name.encode()).hexdigest()[:4], 16) % 180
    hsv = np.array([[[hue, 200, 200]]], np.uint8)
    return tuple(int(v) for v in cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0])


def _slugify(title: str) -> str:
    return re.sub(r"[^a-z0-9]", "", title.lower())


def _border_colour(rgba: np.ndarray) -> tuple[int, int, int]:
    """The median colour of an image's outermost pixels: what its margin continues with."""
    edges = np.concatenate([rgba[0, :, :3], rgba[-1, :, :3], rgba[:, 0, :3], rgba[:, -1, :3]])
    return tuple(int(v) for v in np.median(edges, axis=0))


def _dominant_colour(rgba: np.ndarray) -> tuple[int, int, int]:
    pixels = rgba[rgba[:, :, 3] > 128][:, :3].astype(np.int32)
    if len(pixels) == 0:
        return (0, 0, 0)
    saturated = pixels[(pixels.max(axis=1) - pixels.min(axis=1)) > 40]
    chosen = saturated if len(saturated) > len(pixels) * 0.05 else pixels
    return tuple(int(v) for v in np.median(chosen, axis=0))


def _limit(image: np.ndarray, max_side: int) -> np.ndarray:
    scale = max_side / max(image.shape[:2])
    if scale >= 1:
        return image
    return cv2.resize(image, (int(image.shape[1] * scale), int(image.shape[0] * scale)), interpolation=cv2.INTER_AREA)


def photo_tiles(photos: list[np.ndarray], grid: int = 4) -> list[np.ndarray]:
    """Each photo cut into grid x grid tiles that share no pixels: distinct 'photos' of the same
    scenes, for near-duplicate tests (a copy must find its own tile, not its neighbour)."""
    tiles = []
    for photo in photos:
        h, w = photo.shape[0] // grid, photo.shape[1] // grid
        tiles += [photo[r * h : (r + 1) * h, c * w : (c + 1) * w] for r in range(grid) for c in range(grid)]
    return [tile for tile in tiles if _textured(tile)]


def _textured(image: np.ndarray, min_std: float = 20.0) -> bool:
    """False for near-uniform regions (sky, a plain wall): two of them are the same picture."""
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    return float(grey.std()) >= min_std and float(np.abs(cv2.Laplacian(grey, cv2.CV_32F)).mean()) >= 2.0


def _background(photos: list[np.ndarray], rng: np.random.Generator, width: int, height: int,
                plain: float = 0.05) -> np.ndarray:
    """A random crop of a random photo (a plain colour with chance `plain`), resized to width x height."""
    if rng.random() < plain:
        canvas = np.empty((height, width, 3), np.uint8)
        canvas[:] = rng.integers(0, 256, 3)
        return canvas
    photo = photos[int(rng.integers(len(photos)))]
    ph, pw = photo.shape[:2]
    aspect = width / height
    crop_w = int(min(pw, ph * aspect) * rng.uniform(0.25, 1.0))
    crop_h = max(8, int(crop_w / aspect))
    crop_w = max(8, min(crop_w, pw))
    crop_h = min(crop_h, ph)
    x, y = int(rng.integers(0, pw - crop_w + 1)), int(rng.integers(0, ph - crop_h + 1))
    crop = photo[y : y + crop_h, x : x + crop_w]
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
    return np.ascontiguousarray(cv2.resize(crop, (width, height), interpolation=cv2.INTER_AREA))


def _coloured(logo: Logo, colour: tuple[int, int, int]) -> np.ndarray:
    out = logo.rgba.copy()
    if logo.recolourable:
        out[:, :, :3] = colour
    return out


def _styled_mark(logo: Logo, canvas: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The logo as it appears on products: brand colour, black, white, a plate, a sticker, tone-on-tone."""
    if not logo.recolourable:
        mark = logo.rgba.copy()
        if mark[:, :, 3].min() == 255 and rng.random() < 0.5:  # a photo patch: as a sticker with a white rim
            pad = max(2, mark.shape[1] // 20)
            mark = cv2.copyMakeBorder(mark, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=(255, 255, 255, 255))
        return mark
    choice = rng.random()
    if choice < 0.35:
        return _coloured(logo, logo.colour)
    if choice < 0.5:
        return _coloured(logo, (0, 0, 0))
    if choice < 0.62:
        return _coloured(logo, (255, 255, 255))
    if choice < 0.72:
        return _coloured(logo, tuple(int(v) for v in rng.integers(0, 256, 3)))
    if choice < 0.8:  # tone-on-tone: embossed or printed a shade off the background
        mean = canvas.reshape(-1, 3).mean(axis=0)
        shift = rng.choice([-1, 1]) * rng.uniform(40, 90)
        return _coloured(logo, tuple(int(v) for v in np.clip(mean + shift, 0, 255)))
    # a plate or sticker: the mark on a rectangle of brand colour or white
    plate_colour = logo.colour if rng.random() < 0.5 else (255, 255, 255)
    light = sum(plate_colour) > 600
    mark_colour = logo.colour if plate_colour == (255, 255, 255) else ((0, 0, 0) if light else (255, 255, 255))
    if plate_colour == (255, 255, 255) and sum(logo.colour) > 650:
        mark_colour = (0, 0, 0)
    mark = _coloured(logo, mark_colour)
    pad = int(max(mark.shape[:2]) * rng.uniform(0.08, 0.3))
    plate = np.zeros((mark.shape[0] + 2 * pad, mark.shape[1] + 2 * pad, 4), np.uint8)
    plate[:, :, :3] = plate_colour
    plate[:, :, 3] = 255
    _alpha_paste_rgba(plate, mark, pad, pad)
    return plate


def _fit(mark: np.ndarray, width: int, max_height: int) -> np.ndarray:
    """Resize to `width`, or smaller when the mark would be taller than `max_height`."""
    width = max(4, min(width, int(mark.shape[1] * max_height / mark.shape[0])))
    height = max(4, round(mark.shape[0] * width / mark.shape[1]))
    interpolation = cv2.INTER_AREA if width < mark.shape[1] else cv2.INTER_LINEAR
    return cv2.resize(mark, (width, height), interpolation=interpolation)


def _place(rng: np.random.Generator, mark: np.ndarray, width: int, height: int, overhang: float) -> tuple[int, int]:
    """A random top-left corner; up to `overhang` of the mark may fall outside the canvas."""
    h, w = mark.shape[:2]
    x_low, x_high = -overhang * w, max(-overhang * w, width - (1 - overhang) * w)
    y_low, y_high = -overhang * h, max(-overhang * h, height - (1 - overhang) * h)
    return int(rng.uniform(x_low, x_high)), int(rng.uniform(y_low, y_high))


def _warp(mark: np.ndarray, rng: np.random.Generator, strength: float = 1.0) -> np.ndarray:
    """Rotation up to 20 deg and a perspective tilt, on a canvas large enough to keep the corners."""
    h, w = mark.shape[:2]
    angle = math.radians(rng.normal(0, 8) * strength)
    jitter = 0.12 * strength
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    dst = src + rng.uniform(-jitter, jitter, (4, 2)).astype(np.float32) * np.float32([w, h])
    centre = dst.mean(axis=0)
    rotation = np.float32([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    dst = (dst - centre) @ rotation.T + centre
    dst -= dst.min(axis=0)
    out_w, out_h = int(math.ceil(dst[:, 0].max())) + 1, int(math.ceil(dst[:, 1].max())) + 1
    matrix = cv2.getPerspectiveTransform(src, dst.astype(np.float32))
    return cv2.warpPerspective(mark, matrix, (out_w, out_h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0, 0))


def _occlude(mark: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Hide up to a quarter of the mark, as a finger, a fold or another object would."""
    h, w = mark.shape[:2]
    out = mark.copy()
    ow, oh = int(w * rng.uniform(0.15, 0.5)), int(h * rng.uniform(0.15, 0.5))
    x, y = int(rng.integers(0, max(1, w - ow))), int(rng.integers(0, max(1, h - oh)))
    out[y : y + oh, x : x + ow, 3] = 0
    return out


def _alpha_paste_rgba(canvas: np.ndarray, mark: np.ndarray, x: int, y: int) -> None:
    alpha = mark[:, :, 3:4].astype(np.float32) / 255
    region = canvas[y : y + mark.shape[0], x : x + mark.shape[1]]
    region[:, :, :3] = (mark[:, :, :3] * alpha + region[:, :, :3] * (1 - alpha)).astype(np.uint8)


def _alpha_paste(canvas: np.ndarray, mark: np.ndarray, x: int, y: int) -> None:
    """Alpha-blend an RGBA mark onto an RGB canvas at (x, y), clipped to the canvas."""
    h, w = mark.shape[:2]
    x0, y0 = max(0, x), max(0, y)
    x1, y1 = min(canvas.shape[1], x + w), min(canvas.shape[0], y + h)
    if x1 <= x0 or y1 <= y0:
        return
    part = mark[y0 - y : y1 - y, x0 - x : x1 - x]
    alpha = part[:, :, 3:4].astype(np.float32) / 255
    region = canvas[y0:y1, x0:x1].astype(np.float32)
    canvas[y0:y1, x0:x1] = (part[:, :, :3] * alpha + region * (1 - alpha)).astype(np.uint8)


def _square(image: np.ndarray, size: int) -> np.ndarray:
    interpolation = cv2.INTER_AREA if max(image.shape[:2]) > size else cv2.INTER_LINEAR
    return cv2.resize(image, (size, size), interpolation=interpolation)


def _finish(canvas: np.ndarray, rng: np.random.Generator, size: int) -> np.ndarray:
    """Lighting, blur, noise and JPEG re-encoding, then the model's square input size."""
    out = canvas.astype(np.float32)
    if rng.random() < 0.6:  # lighting: gain, offset and a gradient across the window
        h, w = out.shape[:2]
        ramp = np.linspace(-1, 1, w)[None, :, None] * rng.uniform(-0.25, 0.25)
        out = out * rng.uniform(0.7, 1.25) * (1 + ramp) + rng.uniform(-25, 25)
    if rng.random() < 0.3:
        gamma = rng.uniform(0.7, 1.4)
        out = 255 * (np.clip(out, 0, 255) / 255) ** gamma
    if rng.random() < 0.4:
        out = cv2.GaussianBlur(out, (0, 0), rng.uniform(0.4, 1.6))
    if rng.random() < 0.4:
        out = out + rng.normal(0, rng.uniform(2, 9), out.shape)
    out = np.clip(out, 0, 255).astype(np.uint8)
    out = _jpeg(out, int(rng.integers(30, 96)))
    return _square(out, size)


def _jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    ok, encoded = cv2.imencode(".jpg", image[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
    return np.ascontiguousarray(cv2.imdecode(encoded, cv2.IMREAD_COLOR)[:, :, ::-1])


def _watermark(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    from visionguard.synth import font

    pil = Image.fromarray(image).convert("RGBA")
    layer = Image.new("RGBA", pil.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    words = ("SALE", "BEST PRICE", "shop.example", "ORIGINAL", "Free shipping", "www.deals.test", "HOT")
    text = words[int(rng.integers(len(words)))]
    face: ImageFont.FreeTypeFont = font(max(10, int(pil.height * rng.uniform(0.05, 0.12))))
    x, y = int(rng.uniform(0, pil.width * 0.6)), int(rng.uniform(0, pil.height * 0.85))
    draw.text((x, y), text, font=face, fill=(255, 255, 255, int(rng.integers(90, 200))))
    return np.asarray(Image.alpha_composite(pil, layer).convert("RGB"))
