"""Bulk-scan throughput and peak memory, next to the naive script and decoding alone.

    .venv/bin/python benchmarks/scan_throughput.py --images 1000 [--naive 30] [--options "..."]

Generates N listing photos (800x800 JPEG, ~60% with a printed word: brand names, altered
names, ordinary words; the rest logo or plain photos; demo gallery brands) under
build/bench/N, then measures in the same run:

- decode only: the physical ceiling (Pillow decode of every file, one process);
- `visionguard scan` as a user runs it (a subprocess: model and OCR loading included, default
  options plus --options), its images/s and peak RSS;
- the naive script on the first --naive images: EasyOCR `readtext` on the full image plus an
  ImageNet embedding and a FAISS search per image, one image at a time.

Prints images/s and the ratios, what the scan found against what was printed (imitations
flagged with the right brand, genuine names read as mentions or flagged, other photos flagged),
so a faster option's cost in detection shows in the same run, and the scan's time per stage
(its results' `timings_ms`). Not run in CI: numbers depend on
the machine.
"""

from __future__ import annotations

import argparse
import resource
import shlex
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
GALLERY = ROOT / "indexes" / "demo" / "gallery"
WORDS = ("ADIDAS", "ADIBAS", "NIKE", "NIKF", "PUMA", "SAMSUNQ", "FUJIFLLM", "Nice Deal", "Original", "Sale 50%", "New Balance")
#: The printed words that imitate a gallery brand, and those that spell one.
IMITATIONS = {"ADIBAS": "adidas", "NIKF": "nike", "SAMSUNQ": "samsung", "FUJIFLLM": "fujifilm"}
GENUINE = {"ADIDAS": "adidas", "NIKE": "nike", "PUMA": "puma", "New Balance": "new-balance"}


def make_listings(folder: Path, count: int, seed: int = 0) -> tuple[list[str | None], list[str | None]]:
    """Listing-like photos: a word on a plate (60%), a logo (25%) or a plain photo. Returns the
    word printed on each and the brand of the logo pasted on each (None where there is none);
    photos already on disk are not redrawn, but their random draws are replayed, so both lists
    are right for them too."""
    from visionguard.synth import FONTS, PHOTO_NAMES, paste_logo, photo, print_text

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    photos = [photo(name, (800, 800)) for name in PHOTO_NAMES]
    logo_files = sorted(GALLERY.rglob("logo_*.png"))
    logos = [Image.open(path) for path in logo_files]
    words: list[str | None] = []
    logo_brands: list[str | None] = []
    for i in range(count):
        target = folder / f"listing_{i:06d}.jpg"
        image = photos[rng.integers(len(photos))]
        kind = rng.random()
        word = logo = None
        if kind < 0.6:
            word, size = str(rng.choice(WORDS)), float(rng.uniform(0.05, 0.1))
            centre, font = (float(rng.uniform(0.35, 0.65)), float(rng.uniform(0.2, 0.8))), str(rng.choice(FONTS))
        elif kind < 0.85:
            pick = int(rng.integers(len(logos)))
            logo, size = logos[pick], float(rng.uniform(0.2, 0.5))
            centre = (float(rng.uniform(0.3, 0.7)), float(rng.uniform(0.3, 0.7)))
        quality = int(rng.integers(70, 95))  # drawn for every photo: the sequence is the same either way
        words.append(word)
        logo_brands.append(logo_files[pick].parent.name if logo is not None else None)
        if target.exists():
            continue
        if word is not None:
            image = print_text(image, word, size, centre=centre, font_name=font)
        elif logo is not None:
            image = paste_logo(image, logo, size, centre)
        image.save(target, quality=quality)
    return words, logo_brands


def detection_figures(results: Path, words: list[str | None], logo_brands: list[str | None]) -> str:
    """What the scan found against what was printed or pasted."""
    import json

    found = {row["path"]: row for row in map(json.loads, results.read_text().splitlines())}
    imitations = genuine = named = genuine_flagged = others = others_flagged = 0
    for i, word in enumerate(words):
        row = found.get(f"listing_{i:06d}.jpg", {})
        altered = {item["brand"] for item in row.get("altered") or []}
        mentioned = {item["brand"] for item in row.get("mentions") or []}
        if word in IMITATIONS:
            imitations += IMITATIONS[word] in altered
        elif word in GENUINE:
            genuine += 1
            named += GENUINE[word] in mentioned
            genuine_flagged += bool(altered)
        else:
            others += 1
            others_flagged += bool(altered)
    printed = sum(word in IMITATIONS for word in words)
    rows = [found.get(f"listing_{i:06d}.jpg", {}) for i in range(len(words))]
    by_logo = [(row.get("brand") if row.get("brand_source") == "logo" else None) for row in rows]
    logo_right = sum(seen == brand for seen, brand in zip(by_logo, logo_brands) if brand)
    # a printed name or imitation of the brand counts as showing it; other words, plain photos and other logos do not
    shown = [brand or GENUINE.get(word) or IMITATIONS.get(word) for word, brand in zip(words, logo_brands)]
    false_logo = sum(seen is not None and seen != brand for seen, brand in zip(by_logo, shown))
    return (f"imitations flagged (right brand): {imitations} of {printed}; genuine names read as mentions: {named} of "
            f"{genuine}, flagged as altered: {genuine_flagged}; other photos (honest words, logos, plain) flagged: "
            f"{others_flagged} of {others}\nlogos found by their logo (right brand): {logo_right} of {sum(map(bool, logo_brands))}; "
            f"photos given a logo brand they do not show (printed words of another brand or none, plain photos, other logos): "
            f"{false_logo} of {len(words)}")


def stage_times(results: Path) -> str:
    """Where a photo's time went: each stage's `timings_ms`, averaged over the photos that ran it
    and spread over all photos (stages such as verification run on some photos only)."""
    import json

    rows = [json.loads(line).get("timings_ms") or {} for line in results.read_text().splitlines()]
    spent: dict[str, list[float]] = {}
    for timings in rows:
        for stage, ms in timings.items():
            spent.setdefault(stage, []).append(ms)
    parts = [f"{stage} {np.mean(ms):.1f} on {len(ms) / len(rows):.0%} of photos ({sum(ms) / len(rows):.1f} per photo)"
             for stage, ms in spent.items()]
    total = sum(sum(ms) for ms in spent.values()) / max(1, len(rows))
    return f"ms per photo and worker: {'; '.join(parts)}; {total:.0f} in all"


def decode_rate(files: list[Path]) -> float:
    from visionguard.decode import decode

    started = time.perf_counter()
    for path in files:
        decode(path)
    return len(files) / (time.perf_counter() - started)


def naive_rate(files: list[Path], index_dir: Path) -> float:
    """The straightforward script: full-image EasyOCR readtext and one embedding per image."""
    from visionguard.index import GalleryIndex
    from visionguard.ocr import EasyOcrEngine

    reader = EasyOcrEngine(detector="craft", recognizer_runtime="torch").reader  # EasyOCR as installed
    index = GalleryIndex.load(index_dir)
    model = index.open_model(runtime="torch")  # the scan's model, eager
    started = time.perf_counter()
    for path in files:
        image = np.asarray(Image.open(path).convert("RGB"))
        reader.readtext(image)
        index.search(model.embed([image]), 1)
    return len(files) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--naive", type=int, default=30, help="images for the naive baseline (it is slow)")
    parser.add_argument("--options", default="", help='extra `visionguard scan` options, e.g. "--ocr-detector craft"')
    args = parser.parse_args()

    folder = ROOT / "build" / "bench" / str(args.images)
    started = time.perf_counter()
    words, logo_brands = make_listings(folder, args.images)
    files = sorted(folder.glob("*.jpg"))[: args.images]
    print(f"{len(files)} listing photos 800x800 in {folder} (made in {time.perf_counter() - started:.0f}s)")

    index_dir = ROOT / "build" / "bench" / "index"
    cli = [sys.executable, "-m", "visionguard"]
    subprocess.run([*cli, "index", "build", str(GALLERY), "--out", str(index_dir)], check=True, capture_output=True)

    ceiling = decode_rate(files)
    out = ROOT / "build" / "bench" / f"results-{args.images}.jsonl"
    started = time.perf_counter()
    subprocess.run([*cli, "scan", str(folder), "--index", str(index_dir), "--out", str(out), "--no-summary",
                    *shlex.split(args.options)], check=True, stderr=subprocess.DEVNULL)
    scan_rate = len(files) / (time.perf_counter() - started)
    scan_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    naive = naive_rate(files[: args.naive], index_dir) if args.naive else None

    print(f"{'pipeline':<44}{'images/s':>10}{'vs naive':>10}{'vs decode':>11}")
    rows = [
        ("decode only (ceiling)", ceiling),
        (f"visionguard scan {args.options}".strip() + " (loading included)", scan_rate),
    ]
    if naive:
        rows.append((f"naive: readtext + embedding ({len(files[: args.naive])} images)", naive))
    for label, rate in rows:
        versus = f"{rate / naive:>9.1f}x" if naive else f"{'-':>10}"
        print(f"{label:<44}{rate:>10.2f}{versus}{rate / ceiling:>11.4f}")
    print(f"peak RSS of the scan process: {scan_rss:.0f} MB; 10 million images/day needs 116 images/s")
    print(detection_figures(out, words[: len(files)], logo_brands[: len(files)]))
    print(stage_times(out))


if __name__ == "__main__":
    main()
