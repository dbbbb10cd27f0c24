"""Image-level set for altered brand names: texts of the text-level set printed on photos.

benchmarks/eval_text.py scores the text matcher on clean strings; this set (scored by
benchmarks/eval_image_text.py) measures the whole scan of a listing photo, OCR then matching.
It is a stratified sample of build/text_set.jsonl: about 55% imitations (every class), 15%
correct names, 30% honest text, within a sub-catalogue of at most --max-brands brands so the
gallery stays small. A text is kept only if the labelled brand, any catalogue brand it names
and the brand an honest text is near (note "near X") are in the gallery, and honest texts tied
to a brand keep their text-level share, so they stay as hard as in the text-level set.
Each text is printed on an 800x800 JPEG of a real photo (scikit-image's public-domain/CC0
samples, cropped and mirrored; Debian wallpapers if fetched) in a font that has all its glyphs,
dark on a light plate, light on a dark plate or coloured on the photo (outlined where the
contrast is poor), 4-12% of the image high (font size), rotated -8..8 degrees, sometimes with an
ordinary second line ("Free shipping").

    bash benchmarks/fetch_fonts.sh   # optional: more font families and wallpapers into build/
    .venv/bin/python benchmarks/image_text_set.py --set build/text_set.jsonl --out build/image_text --n 360 --seed 0
    .venv/bin/python benchmarks/eval_image_text.py --data build/image_text

Writes OUT/listings/NNNN.jpg, OUT/labels.jsonl (file relative to listings/, text, label, brand,
class, note, font, height, angle, style, background, extra, box, ...) and OUT/gallery/<brand_id>/
wordmark.png + wordmark_serif.png with OUT/gallery/brands.json (names and aliases).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import unicodedata
from collections import Counter, defaultdict
from functools import cache
from itertools import zip_longest
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike
from PIL import Image, ImageDraw, ImageFilter, ImageFont, ImageOps

from visionguard.synth import PHOTO_NAMES

SIZE = 800
SHARES = {"imitation": 0.55, "brand": 0.15, "honest": 0.30}
DEJAVU = Path("/usr/share/fonts/truetype/dejavu")
#: Fonts left out: symbol/dingbat/script faces and hairline weights nobody prints a brand in.
SKIP_FONTS = ("MathTeXGyre", "ExtraLight", "Hairline", "Thin", "D050000L", "StandardSymbols", "Z003")
EXTRA_LINES = ("Free shipping", "Size 42", "New arrival", "100% cotton", "Best price", "In stock",
               "Fast delivery", "Limited offer", "Made in Italy", "Size M", "Gift box included")
DARK = ((15, 15, 15), (40, 40, 40), (120, 10, 10), (10, 40, 110), (10, 80, 30), (80, 10, 90))
LIGHT = ((255, 255, 255), (245, 245, 235), (255, 225, 40), (255, 215, 215), (190, 250, 255))
STYLES = ("dark_on_light", "light_on_dark", "direct")
Item = dict  # one line of the text set: text, label, brand, class


def key(text: str) -> str:
    """Case-folded letters and digits only: how a text is compared with a brand name."""
    return "".join(ch for ch in unicodedata.normalize("NFKC", text).casefold() if ch.isalnum())


def allocate(total: int, available: dict[str, int]) -> dict[str, int]:
    """Split `total` evenly over classes, giving what a small class cannot use to the others."""
    quota = {c: 0 for c in available}
    open_classes = sorted((c for c in available if available[c] > 0), key=lambda c: available[c])
    left = min(total, sum(available.values()))
    while open_classes and left > 0:
        share = max(1, left // len(open_classes))
        for c in list(open_classes):
            take = min(share, available[c] - quota[c], left)
            quota[c], left = quota[c] + take, left - take
            if quota[c] >= available[c]:
                open_classes.remove(c)
    return quota


def choose(items: list[Item], catalogue: list[dict], n: int, max_brands: int, rng: random.Random) -> tuple[list[str], list[Item]]:
    """Pick the sub-catalogue (every class represented) and the stratified sample within it."""
    names = {b["id"]: {key(x) for x in [b["name"], *b.get("aliases", [])]} for b in catalogue}
    owners: dict[str, set[str]] = defaultdict(set)  # name key -> brands
    for brand, keys in names.items():
        for k in keys:
            owners[k].add(brand)
    group_total = {"imitation": round(n * SHARES["imitation"]), "brand": round(n * SHARES["brand"])}
    group_total["honest"] = n - sum(group_total.values())
    by_class: dict[tuple[str, str], list[Item]] = defaultdict(list)
    for item in items:  # brands that must be in the gallery for the label to stay true
        item["_needs"] = {item["brand"]} if item.get("brand") else set()
        if item["label"] == "honest":  # and the brand an honest text names, or is near (note "near X d=2")
            near = re.fullmatch(r"near (.+?)(?: d=\d+)?", item.get("note") or "")
            for word in {item["text"], *item["text"].split(), *(near.groups() if near else ())}:
                item["_needs"] |= owners.get(key(word), set())
        by_class[(item["label"], item["class"])].append(item)
    for pool in by_class.values():
        rng.shuffle(pool)
    quota: dict[tuple[str, str], int] = {}
    for label, total in group_total.items():
        classes = {c: len(p) for (g, c), p in by_class.items() if g == label}
        quota.update({(label, c): q for c, q in allocate(total, classes).items()})
    chosen: set[str] = set()
    # Rarest classes first: add the brands of random items until the class can fill its quota.
    for cls in sorted(by_class, key=lambda c: len(by_class[c])):
        eligible = sum(i["_needs"] <= chosen for i in by_class[cls])
        for item in by_class[cls]:
            if eligible >= quota[cls]:
                break
            if not item["_needs"] <= chosen and len(chosen | item["_needs"]) <= max_brands:
                chosen |= item["_needs"]
                eligible = sum(i["_needs"] <= chosen for i in by_class[cls])
    spare = sorted({i["brand"] for i in items if i.get("brand") in names} - chosen)
    rng.shuffle(spare)
    chosen |= set(spare[: max(0, max_brands - len(chosen))])
    sample: list[Item] = []
    for label, total in group_total.items():
        eligible = {c: [i for i in p if i["_needs"] <= chosen] for (g, c), p in by_class.items() if g == label}
        for name, q in allocate(total, {c: len(p) for c, p in eligible.items()}).items():
            sample.extend(take(eligible[name], q, by_class[(label, name)]))
    rng.shuffle(sample)
    return sorted(chosen), sample


def take(pool: list[Item], q: int, full: list[Item]) -> list[Item]:
    """q items of a class: tied to a brand in the same share as in the whole class (honest texts
    near a brand stay as common as at the text level), round-robin over brands."""
    tied, plain = [i for i in pool if i["_needs"]], [i for i in pool if not i["_needs"]]
    want = min(len(tied), max(q - len(plain), round(q * sum(bool(i["_needs"]) for i in full) / len(full))))
    per_brand: dict[tuple[str, ...], list[Item]] = defaultdict(list)
    for item in tied:
        per_brand[tuple(sorted(item["_needs"]))].append(item)
    rounds = [i for row in zip_longest(*per_brand.values()) for i in row if i is not None]
    return rounds[:want] + plain[: q - want]


class Fonts:
    """Font files, and which of them can draw a given text (no glyph falls back to .notdef)."""

    def __init__(self, assets: Path) -> None:
        found = sorted(DEJAVU.glob("*.ttf")) + sorted(assets.glob("fonts/**/*.[ot]tf"))
        unique = {p.name: p for p in reversed(found) if not any(s in p.name for s in SKIP_FONTS)}
        self.paths = sorted(unique.values(), key=lambda p: (p.parent != DEJAVU, p.name))
        if not self.paths:
            raise SystemExit(f"no fonts found in {DEJAVU} or {assets / 'fonts'}")

    @staticmethod
    @cache
    def face(path: Path, size: int) -> ImageFont.FreeTypeFont:
        return ImageFont.truetype(str(path), size)

    @staticmethod
    @cache
    def has(path: Path, char: str) -> bool:
        if char.isspace() or unicodedata.category(char) == "Cf":
            return True
        glyph, notdef = Fonts.face(path, 32).getmask(char), Fonts.face(path, 32).getmask("\U0010fffd")
        return (glyph.size, bytes(glyph)) != (notdef.size, bytes(notdef))

    def can_draw(self, path: Path, text: str) -> bool:
        return all(self.has(path, ch) for ch in text)

    def pick(self, text: str, rng: random.Random) -> Path:
        """A random font with every glyph of `text` (texts no font can draw are left out earlier)."""
        return rng.choice([p for p in self.paths if self.can_draw(p, text)])


class Backgrounds:
    """Square 800x800 crops (random scale, offset and mirroring) of photos and wallpapers."""

    def __init__(self, assets: Path, wallpaper_share: float = 0.25) -> None:
        from skimage import data

        self.photos = {name: Image.fromarray(getattr(data, name)()).convert("RGB") for name in PHOTO_NAMES}
        wallpapers = sorted(p for p in assets.glob("wallpapers/*") if p.suffix.lower() in (".png", ".jpg"))
        self.wallpapers = {f"wallpaper:{p.stem}": Image.open(p).convert("RGB") for p in wallpapers}
        self.wallpaper_share = wallpaper_share

    def make(self, rng: random.Random) -> tuple[Image.Image, str]:
        pool = self.wallpapers if self.wallpapers and rng.random() < self.wallpaper_share else self.photos
        name = rng.choice(sorted(pool))
        image = pool[name]
        side = round(min(image.size) * rng.uniform(0.55, 1.0))
        x, y = rng.randint(0, image.width - side), rng.randint(0, image.height - side)
        crop = image.crop((x, y, x + side, y + side)).resize((SIZE, SIZE), Image.Resampling.LANCZOS)
        flip = rng.random() < 0.5
        return (ImageOps.mirror(crop) if flip else crop), name + (":flip" if flip else "")


def luminance(rgb: ArrayLike) -> np.ndarray:
    """WCAG relative luminance of sRGB colours (last axis: 0-255 channels)."""
    c = np.asarray(rgb, dtype=float) / 255
    c = np.where(c <= 0.03928, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    return c @ np.array([0.2126, 0.7152, 0.0722])


def readability(colour: tuple[int, int, int], pixels: np.ndarray) -> float:
    """WCAG contrast of a text colour against the 10% of background pixels it contrasts least with."""
    a, b = luminance(colour), luminance(pixels)
    ratio = (np.maximum(a, b) + 0.05) / (np.minimum(a, b) + 0.05)
    return float(np.percentile(ratio, 10))


def masks(text: str, face: ImageFont.FreeTypeFont, angle: float, plate: bool) -> tuple[Image.Image, Image.Image]:
    """Rotated alpha masks of the text and of its plate (the whole padded box), same size."""
    x0, y0, x1, y1 = (int(v) for v in face.getbbox(text))
    pad = round((y1 - y0) * 0.35) if plate else max(3, int(face.size) // 12)
    text_mask = Image.new("L", (x1 - x0 + 2 * pad, y1 - y0 + 2 * pad), 0)
    ImageDraw.Draw(text_mask).text((pad - x0, pad - y0), text, font=face, fill=255)
    plate_mask = Image.new("L", text_mask.size, 0)
    ImageDraw.Draw(plate_mask).rounded_rectangle((0, 0, *(s - 1 for s in text_mask.size)), radius=pad // 2, fill=255)
    return tuple(m.rotate(angle, Image.Resampling.BICUBIC, expand=True) for m in (text_mask, plate_mask))  # type: ignore[return-value]


def place(image: Image.Image, text: str, face_path: Path, height: float, angle: float, style: str,
          rng: random.Random, avoid: tuple[int, int, int, int] | None = None) -> dict | None:
    """Print `text` fully inside the image (shrinking it if needed); None if it cannot fit."""
    margin = 12
    px = round(height * SIZE)
    while px >= 12:
        text_mask, plate_mask = masks(text, Fonts.face(face_path, px), angle, style != "direct")
        w, h = text_mask.size
        if w <= SIZE - 2 * margin and h <= SIZE - 2 * margin:
            break
        px = round(px * 0.9)
    else:
        return None
    for _ in range(30):
        x, y = rng.randint(margin, SIZE - margin - w), rng.randint(margin, SIZE - margin - h)
        box = (x, y, x + w, y + h)
        if avoid is None or box[2] < avoid[0] or box[0] > avoid[2] or box[3] < avoid[1] or box[1] > avoid[3]:
            break
    else:
        return None
    region = image.crop(box)
    pixels = np.asarray(region.resize((32, 32)), dtype=float).reshape(-1, 3)
    outline = None
    if style == "dark_on_light":
        plate, colour = rng.choice(((250, 250, 250), (235, 235, 225), (255, 240, 200))), rng.choice(DARK)
    elif style == "light_on_dark":
        plate, colour = rng.choice(((20, 20, 20), (10, 30, 70), (90, 10, 10))), rng.choice(LIGHT)
    else:
        plate = None
        colour = max(DARK + LIGHT, key=lambda c: readability(c, pixels) * rng.uniform(1, 1.5))
        if readability(colour, pixels) < 3:  # busy or low-contrast background: outline the letters
            outline = (0, 0, 0) if luminance(colour) > 0.3 else (255, 255, 255)
    if plate:
        image.paste(plate, box, plate_mask)
    if outline:
        image.paste(outline, box, text_mask.filter(ImageFilter.MaxFilter(3 if px < 40 else 5)))
    image.paste(colour, box, text_mask)
    return {"box": list(box), "px": px, "colour": list(colour), "plate": list(plate) if plate else None,
            "outline": outline is not None}


def render(text: str, fonts: Fonts, backgrounds: Backgrounds, rng: random.Random) -> tuple[Image.Image, dict]:
    image, background = backgrounds.make(rng)
    font_path = fonts.pick(text, rng)
    style = rng.choice(STYLES)
    height, angle = rng.uniform(0.04, 0.12), round(rng.uniform(-8, 8), 1)
    printed = place(image, text, font_path, height, angle, style, rng)
    if printed is None:
        raise SystemExit(f"cannot fit {text!r} into {SIZE}x{SIZE}")
    extra = rng.choice(EXTRA_LINES) if rng.random() < 0.35 else None
    if extra and not place(image, extra, fonts.pick(extra, rng), rng.uniform(0.035, 0.06), round(rng.uniform(-4, 4), 1),
                           rng.choice(STYLES), rng, avoid=tuple(printed["box"])):
        extra = None
    return image, {"font": font_path.name, "height": round(printed["px"] / SIZE, 4), "angle": angle, "style": style,
                   "background": background, "extra": extra, **printed}


def write_gallery(gallery: Path, brands: list[dict], fonts: Fonts) -> None:
    """Each brand's name as a clean black-on-white wordmark in two fonts, and brands.json."""
    for brand in brands:
        if not re.fullmatch(r"[\w.\-]+", brand["id"]):
            raise SystemExit(f"brand id {brand['id']!r} is not usable as a folder name")
        (gallery / brand["id"]).mkdir(parents=True)
        for file, font_name in (("wordmark.png", "DejaVuSans-Bold.ttf"), ("wordmark_serif.png", "DejaVuSerif.ttf")):
            path = DEJAVU / font_name
            path = path if fonts.can_draw(path, brand["name"]) else fonts.pick(brand["name"], random.Random(brand["id"]))
            face = Fonts.face(path, 96)
            x0, y0, x1, y1 = (int(v) for v in face.getbbox(brand["name"]))
            image = Image.new("RGB", (x1 - x0 + 80, y1 - y0 + 80), (255, 255, 255))
            ImageDraw.Draw(image).text((40 - x0, 40 - y0), brand["name"], font=face, fill=(0, 0, 0))
            image.save(gallery / brand["id"] / file)
    info = {b["id"]: {"name": b["name"], "aliases": list(b.get("aliases", []))} for b in brands}
    (gallery / "brands.json").write_text(json.dumps(info, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", type=Path, default=Path("build/text_set.jsonl"), help="text-level labelled set")
    parser.add_argument("--out", type=Path, default=Path("build/image_text"))
    parser.add_argument("--n", type=int, default=360, help="number of listing images")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-brands", type=int, default=60, help="size of the sub-catalogue (gallery)")
    parser.add_argument("--assets", type=Path, default=Path("build"), help="where fetch_fonts.sh put fonts/ and wallpapers/")
    parser.add_argument(
        "--wallpaper-share", type=float, default=0.25,
        help="share of backgrounds taken from ASSETS/wallpapers/*.png|jpg rather than the scikit-image photos (1: wallpapers only)",
    )
    args = parser.parse_args()
    rng = random.Random(args.seed)
    lines = [json.loads(line) for line in args.set.read_text(encoding="utf-8").splitlines() if line.strip()]
    catalogue, items = lines[0]["catalogue"], [item for item in lines[1:] if item.get("label") in SHARES]
    fonts, backgrounds = Fonts(args.assets), Backgrounds(args.assets, args.wallpaper_share)
    drawable = [item for item in items if any(fonts.can_draw(p, item["text"]) for p in fonts.paths)]
    if len(drawable) < len(items):
        print(f"warning: left out {len(items) - len(drawable)} texts that no single font can draw "
              "(fullwidth Latin needs fonts-droid-fallback from benchmarks/fetch_fonts.sh)")
    brand_ids, sample = choose(drawable, catalogue, args.n, args.max_brands, rng)

    if args.out.exists() and any(args.out.iterdir()) and not (args.out / "labels.jsonl").exists():
        raise SystemExit(f"{args.out} is not empty and was not made by this script; choose another --out")
    shutil.rmtree(args.out, ignore_errors=True)  # listings, gallery and any index/results of an older set
    (args.out / "listings").mkdir(parents=True)
    write_gallery(args.out / "gallery", [b for b in catalogue if b["id"] in brand_ids], fonts)
    used_fonts: Counter[str] = Counter()
    with (args.out / "labels.jsonl").open("w", encoding="utf-8") as labels:
        for number, item in enumerate(sample, 1):
            image, meta = render(item["text"], fonts, backgrounds, rng)
            file = f"{number:04d}.jpg"
            image.save(args.out / "listings" / file, "JPEG", quality=rng.randint(80, 92))
            row = {"file": file, **{k: item.get(k) for k in ("text", "label", "brand", "class", "note")}, **meta}
            labels.write(json.dumps(row, ensure_ascii=False) + "\n")
            used_fonts[meta["font"]] += 1
    classes = Counter(f"{i['label']}/{i['class']}" for i in sample)
    print(f"{len(sample)} listings, {len(brand_ids)} brands in the gallery -> {args.out}")
    print("  " + "  ".join(f"{c} {k}" for c, k in sorted(classes.items())))
    print(f"  {len(used_fonts)} of {len(fonts.paths)} fonts used; backgrounds: {len(PHOTO_NAMES)} photos, "
          f"{len(backgrounds.wallpapers)} wallpapers")


if __name__ == "__main__":
    main()
