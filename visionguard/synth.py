"""Listing-like test photos made from real material: logos pasted and brand words printed
on public-domain/CC0 photographs (scikit-image's bundled samples).

Used by the demo generator, the tests and the benchmarks, so they all exercise the scan on
the same kind of data. Photos need scikit-image (installed with EasyOCR).
"""

from __future__ import annotations

import io
import json
import random
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont, ImageOps

#: scikit-image samples that are public domain or CC0 (see ASSETS.md).
PHOTO_NAMES = ("coffee", "chelsea", "astronaut", "rocket", "brick", "grass", "gravel", "hubble_deep_field")
FONTS = ("DejaVuSans-Bold.ttf", "DejaVuSerif.ttf")


def photo(name: str, size: tuple[int, int] = (800, 600)) -> Image.Image:
    """A bundled sample photo, RGB, cropped and resized to `size`."""
    from skimage import data

    array = getattr(data, name)()
    image = Image.fromarray(array).convert("RGB")
    return ImageOps.fit(image, size, Image.Resampling.LANCZOS)


def font(size: int, name: str = FONTS[0]) -> ImageFont.FreeTypeFont:
    path = resources.files("visionguard") / "assets" / "fonts" / name
    return ImageFont.truetype(str(path), size)


def paste_logo(background: Image.Image, logo: Image.Image, width_fraction: float, centre: tuple[float, float]) -> Image.Image:
    """Paste a logo (RGBA, or RGB on white) at a relative centre, scaled to a fraction of the width."""
    out = background.copy()
    logo = logo.convert("RGBA")
    width = max(8, round(out.width * width_fraction))
    height = max(8, round(logo.height * width / logo.width))
    logo = logo.resize((width, height), Image.Resampling.LANCZOS)
    x = round(centre[0] * out.width - width / 2)
    y = round(centre[1] * out.height - height / 2)
    out.paste(logo, (x, y), logo)
    return out


def print_text(
    background: Image.Image,
    text: str,
    height_fraction: float = 0.1,
    centre: tuple[float, float] = (0.5, 0.5),
    colour: tuple[int, int, int] = (20, 20, 20),
    plate: tuple[int, int, int] | None = (245, 245, 245),
    font_name: str = FONTS[0],
) -> Image.Image:
    """Print a word on a photo, on a light plate as on a tag or box, for OCR to read."""
    out = background.copy()
    draw = ImageDraw.Draw(out)
    face = font(max(10, round(out.height * height_fraction)), font_name)
    x0, y0, x1, y1 = draw.textbbox((0, 0), text, font=face)
    x = round(centre[0] * out.width - (x1 - x0) / 2) - x0
    y = round(centre[1] * out.height - (y1 - y0) / 2) - y0
    if plate:
        pad = round((y1 - y0) * 0.4)
        draw.rectangle((x + x0 - pad, y + y0 - pad, x + x1 + pad, y + y1 + pad), fill=plate)
    draw.text((x, y), text, font=face, fill=colour)
    return out


def copy_edit(image: Image.Image, seed: int = 0) -> Image.Image:
    """What a counterfeit shop does to an official photo: resize, re-encode, add a frame."""
    rng = random.Random(seed)
    scale = rng.uniform(0.7, 0.9)
    edited = image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.BILINEAR)
    border = round(edited.width * 0.03)
    edited = ImageOps.expand(edited, border=border, fill=(255, 255, 255))
    buffer = io.BytesIO()
    edited.save(buffer, "JPEG", quality=70)
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


@dataclass
class ListingSpec:
    """One generated listing and what a correct scan says about it."""

    name: str
    brand: str | None = None
    altered_brand: str | None = None
    duplicate_of: str | None = None
    status: str = "ok"


def make_listings(gallery_dir: str | Path, out_dir: str | Path) -> list[ListingSpec]:
    """Compose the standard listing set from a gallery made by the demo generator.

    Needs the gallery's `<brand>/logo_color.png` images and `nike/products/product_1.jpg`.
    Writes JPEGs (and one corrupt file) to out_dir and an `expected.json` beside them.
    """
    gallery_dir, out_dir = Path(gallery_dir), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    specs: list[ListingSpec] = []

    def save(image: Image.Image, spec: ListingSpec) -> None:
        image.save(out_dir / spec.name, "JPEG", quality=90)
        specs.append(spec)

    logo = lambda brand: Image.open(gallery_dir / brand / "logo_color.png")  # noqa: E731
    save(paste_logo(photo("coffee"), logo("adidas"), 0.4, (0.5, 0.45)), ListingSpec("logo_adidas.jpg", brand="adidas"))
    save(paste_logo(photo("brick"), logo("puma"), 0.35, (0.35, 0.4)), ListingSpec("logo_puma.jpg", brand="puma"))
    save(print_text(photo("grass"), "NIKE", 0.12, (0.5, 0.3)), ListingSpec("text_nike.jpg", brand="nike"))
    save(print_text(photo("chelsea"), "ADIBAS", 0.1, (0.5, 0.75)), ListingSpec("text_adibas.jpg", altered_brand="adidas"))
    save(print_text(photo("gravel"), "SAMSUNQ", 0.09, (0.5, 0.5)), ListingSpec("text_samsunq.jpg", altered_brand="samsung"))
    save(print_text(photo("astronaut"), "Nice Deal", 0.09, (0.5, 0.85)), ListingSpec("text_nice_deal.jpg"))
    save(photo("rocket"), ListingSpec("clean_photo.jpg"))
    official = Image.open(gallery_dir / "nike" / "products" / "product_1.jpg").convert("RGB")
    save(copy_edit(official, seed=1), ListingSpec("copy_of_nike_product.jpg", brand="nike", duplicate_of="nike/products/product_1.jpg"))
    corrupt = out_dir / "corrupt.jpg"
    buffer = io.BytesIO()
    photo("coffee").save(buffer, "JPEG")
    corrupt.write_bytes(buffer.getvalue()[:600])
    specs.append(ListingSpec("corrupt.jpg", status="error"))
    (out_dir / "expected.json").write_text(json.dumps([s.__dict__ for s in specs], indent=1))
    return specs
