"""What a smaller text-detection size (`visionguard scan --ocr-side N`) costs in words read, and saves in time.

    .venv/bin/python benchmarks/ocr_side.py [--per-height 50] [--sides 960 800 704 640 576 512] [--seed 5]

Prints each word of `scan_throughput.py`'s vocabulary (brand names, imitations, ordinary words)
on 800x800 photos at several text heights (12-32 px: fine print on a box or a tag; the bench
listings print theirs at 40-80 px), on a light plate or straight on the photo, and reads every
photo with the scan's OCR engine (PP-OCRv4 detection, EasyOCR recognition) at each detection
size. A word counts as read when the OCR tokens, joined, contain it (case-folded, spaces
removed). The first size given is the baseline of the same run (by default 960, the scan's
default: an 800 px photo at full size). Time is OCR per photo on this process's threads; each
size loads its own engine, outside the timing. Not run in CI.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

HEIGHTS = (12, 14, 16, 20, 24, 32)


def make_photos(per_height: int, seed: int) -> dict[int, list[tuple[str, np.ndarray]]]:
    """Words printed at each text height (font size in pixels on an 800x800 photo)."""
    from scan_throughput import WORDS

    from visionguard.synth import FONTS, PHOTO_NAMES, photo, print_text

    rng = np.random.default_rng(seed)
    backgrounds = [photo(name, (800, 800)) for name in PHOTO_NAMES]
    photos: dict[int, list[tuple[str, np.ndarray]]] = {}
    for height in HEIGHTS:
        photos[height] = []
        for _ in range(per_height):
            word, font = str(rng.choice(WORDS)), str(rng.choice(FONTS))
            centre = (float(rng.uniform(0.3, 0.7)), float(rng.uniform(0.2, 0.8)))
            plate = None if rng.random() < 0.3 else (245, 245, 245)
            image = print_text(backgrounds[rng.integers(len(backgrounds))], word, height / 800, centre=centre, font_name=font, plate=plate)
            photos[height].append((word, np.asarray(image)))
    return photos


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-height", type=int, default=50, help="photos per text height")
    parser.add_argument("--sides", type=int, nargs="+", default=[960, 800, 704, 640, 576, 512])
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()

    from visionguard.ocr import EasyOcrEngine

    photos = make_photos(args.per_height, args.seed)
    squash = lambda text: text.casefold().replace(" ", "")  # noqa: E731
    print(f"words read of {args.per_height} per text height (px on an 800x800 photo); OCR ms per photo")
    print("side  " + "  ".join(f"{height:>5}" for height in HEIGHTS) + "    all    ms  speed-up")
    baseline_ms = None
    for side in args.sides:
        engine = EasyOcrEngine(detect_side=side)
        engine.read(photos[HEIGHTS[-1]][0][1])  # first call outside the timing
        counts, started, total = [], time.perf_counter(), 0
        for height in HEIGHTS:
            read = 0
            for word, image in photos[height]:
                tokens = engine.read(image)
                read += squash(word) in squash("".join(token.text for token in tokens))
                total += 1
            counts.append(read)
        ms = (time.perf_counter() - started) / total * 1000
        baseline_ms = baseline_ms or ms
        print(f"{side:>4}  " + "  ".join(f"{count:>5}" for count in counts) + f"  {sum(counts):>5}  {ms:>4.0f}  {baseline_ms / ms:.2f}x", flush=True)


if __name__ == "__main__":
    main()
