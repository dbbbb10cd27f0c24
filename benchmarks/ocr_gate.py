"""Would a text-presence gate pay? PP-OCR detection on a small copy first, full size only where text shows.

    .venv/bin/python benchmarks/ocr_gate.py [--folder build/bench/200] [--images 200] [--gate-side 320]

Runs PP-OCRv4's detector (the scan's default) on each photo at --gate-side and at the scan's
960 px, in the same run, and prints the time per image of each, how many photos each finds
text in, the photos where the small look finds nothing although the full one does (what the
gate would lose), and the net time a gate would save per image. Photos come from
`scan_throughput.py` (800x800, ~60% with printed words). Not run in CI.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--folder", type=Path, default=ROOT / "build" / "bench" / "200")
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--gate-side", type=int, default=320)
    args = parser.parse_args()

    from scan_throughput import make_listings

    from visionguard.ocr import PpOcrDetector

    make_listings(args.folder, args.images)
    files = sorted(args.folder.glob("*.jpg"))[: args.images]
    images = [np.asarray(Image.open(path).convert("RGB")) for path in files]
    detector = PpOcrDetector()
    detector.detect(images[0])  # warm-up
    found, cost = {}, {}
    for side in (args.gate_side, detector.max_side):
        started = time.perf_counter()
        found[side] = [len(detector.detect(image, side)) > 0 for image in images]
        cost[side] = (time.perf_counter() - started) * 1000 / len(images)
    small, full = found[args.gate_side], found[detector.max_side]
    stopped = sum(not hit for hit in small)
    lost = sum(f and not s for f, s in zip(full, small))
    print(f"{len(images)} photos; PP-OCRv4 detection")
    for side in (args.gate_side, detector.max_side):
        print(f"  at {side:>4} px: {cost[side]:6.1f} ms per photo, text found in {sum(found[side])}")
    saving = stopped / len(images) * cost[detector.max_side] - cost[args.gate_side]
    print(f"gate at {args.gate_side} px: stops {stopped} photos ({stopped / len(images):.0%}); "
          f"{lost} of them have text the full detection finds; net saving {saving:.1f} ms per photo")


if __name__ == "__main__":
    main()
