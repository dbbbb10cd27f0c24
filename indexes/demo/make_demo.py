"""Rebuild the bundled demo: a gallery of six brands and a set of listing photos.

    npm pack simple-icons@16.37.0 && tar xzf simple-icons-16.37.0.tgz   # CC0 brand icons
    pip install cairosvg                                                # renders the SVGs
    python indexes/demo/make_demo.py --simple-icons package/

Writes indexes/demo/gallery/ (logos in brand colours, in black and on colour plates, one
"official" product photo) and indexes/demo/listings/ (see visionguard.synth.make_listings).
Both are committed, so `make demo` needs neither npm nor cairosvg.
"""

from __future__ import annotations

import argparse
import io
import json
import re
import shutil
from pathlib import Path

from PIL import Image, ImageOps

from visionguard.synth import make_listings, paste_logo, photo

HERE = Path(__file__).resolve().parent
#: gallery brand id -> simple-icons slug
BRANDS = {
    "adidas": "adidas",
    "nike": "nike",
    "puma": "puma",
    "fujifilm": "fujifilm",
    "samsung": "samsung",
    "new-balance": "newbalance",
}
BRANDS_JSON = {
    "adidas": {"name": "adidas", "aliases": []},
    "nike": {"name": "Nike", "aliases": []},
    "puma": {"name": "Puma", "aliases": []},
    "fujifilm": {"name": "Fujifilm", "aliases": ["Fuji"]},
    "samsung": {"name": "Samsung", "aliases": []},
    "new-balance": {"name": "New Balance", "aliases": ["NB"]},
}


def render_svg(svg: str, colour: str, size: int) -> Image.Image:
    import cairosvg

    svg = re.sub(r"<svg ", f'<svg fill="#{colour}" ', svg, count=1)
    png = cairosvg.svg2png(bytestring=svg.encode(), output_width=size)
    return Image.open(io.BytesIO(png)).convert("RGBA")


def on_background(logo: Image.Image, colour: tuple[int, int, int], margin: float = 0.15) -> Image.Image:
    pad = round(max(logo.size) * margin)
    canvas = Image.new("RGBA", (logo.width + 2 * pad, logo.height + 2 * pad), colour + (255,))
    canvas.alpha_composite(logo, (pad, pad))
    return canvas.convert("RGB")


def make_gallery(simple_icons: Path, gallery: Path) -> None:
    meta = {icon["slug"]: icon for icon in json.loads((simple_icons / "data" / "simple-icons.json").read_text())}
    if gallery.exists():
        shutil.rmtree(gallery)
    for brand_id, slug in BRANDS.items():
        folder = gallery / brand_id
        folder.mkdir(parents=True)
        svg = (simple_icons / "icons" / f"{slug}.svg").read_text()
        colour = meta[slug]["hex"]
        rgb = tuple(int(colour[i : i + 2], 16) for i in (0, 2, 4))
        on_background(render_svg(svg, colour, 256), (255, 255, 255)).save(folder / "logo_color.png")
        on_background(render_svg(svg, "000000", 256), (255, 255, 255)).save(folder / "logo_black.png")
        on_background(render_svg(svg, "FFFFFF", 256), rgb).save(folder / "logo_plate.png")
    nike = render_svg((simple_icons / "icons" / "nike.svg").read_text(), "FFFFFF", 256)
    product = paste_logo(photo("hubble_deep_field"), nike, 0.3, (0.72, 0.7))
    (gallery / "nike" / "products").mkdir()
    product.save(gallery / "nike" / "products" / "product_1.jpg", quality=92)
    (gallery / "brands.json").write_text(json.dumps(BRANDS_JSON, indent=1) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--simple-icons", type=Path, required=True, help="unpacked npm simple-icons package")
    parser.add_argument("--out", type=Path, default=HERE)
    args = parser.parse_args()
    make_gallery(args.simple_icons, args.out / "gallery")
    if (args.out / "listings").exists():
        shutil.rmtree(args.out / "listings")
    specs = make_listings(args.out / "gallery", args.out / "listings")
    print(f"gallery: {args.out / 'gallery'}; listings: {len(specs)} in {args.out / 'listings'}")


if __name__ == "__main__":
    main()
