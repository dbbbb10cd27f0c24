"""Does the int8 PP-OCR detector pay? Detection time and boxes, float vs int8, in the same run.

    .venv/bin/python benchmarks/ocr_int8.py [--folder build/bench/1000] [--images 200]

Runs PP-OCRv4's detector as shipped (`--ocr-detector ppocr`, the scan's default) and its int8
copy (`--ocr-detector ppocr-int8`, made by `visionguard.ocr.quantize_detector` on first use)
on the same photos at the scan's 960 px, one thread each (as a scan worker runs it), and
prints milliseconds per image, the speed-up, and how the boxes compare: boxes of one without
a partner of IoU >= 0.5 in the other. The detector is ~2/3 of a scan's OCR time. Photos come
from `scan_throughput.py` (800x800, ~60% with printed words). Not run in CI. Recall of the
whole scan with each detector: `benchmarks/eval_image_text.py --scan-options "--ocr-detector ppocr-int8"`.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]


def _box(quad: np.ndarray) -> tuple[float, float, float, float]:
    return float(quad[:, 0].min()), float(quad[:, 1].min()), float(quad[:, 0].max()), float(quad[:, 1].max())


def _iou(a, b) -> float:
    width, height = min(a[2], b[2]) - max(a[0], b[0]), min(a[3], b[3]) - max(a[1], b[1])
    if width <= 0 or height <= 0:
        return 0.0
    inter = width * height
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def _unpartnered(boxes: list, others: list) -> int:
    return sum(1 for box in boxes if not any(_iou(box, other) >= 0.5 for other in others))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--folder", type=Path, default=ROOT / "build" / "bench" / "1000")
    parser.add_argument("--images", type=int, default=200)
    args = parser.parse_args()
    import torch

    from visionguard.ocr import PpOcrDetector

    files = sorted(args.folder.glob("*.jpg"))[: args.images]
    if not files:
        raise SystemExit(f"no photos in {args.folder}: run benchmarks/scan_throughput.py first")
    photos = [np.asarray(Image.open(path).convert("RGB")) for path in files]
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    detectors = {"ppocr (float)": PpOcrDetector(), "ppocr-int8": PpOcrDetector(quantized=True)}
    found, seconds = {}, {}
    for name, detector in detectors.items():
        detector.detect(photos[0])  # warm-up
        started = time.perf_counter()
        found[name] = [[_box(q) for q in detector.detect(photo)] for photo in photos]
        seconds[name] = time.perf_counter() - started
    (base, base_boxes), (fast, fast_boxes) = found.items()
    print(f"{len(photos)} photos from {args.folder}, 960 px, one thread")
    for name in detectors:
        with_text = sum(1 for boxes in found[name] if boxes)
        print(f"{name:16s} {seconds[name] * 1000 / len(photos):7.1f} ms/image   {sum(map(len, found[name])):5d} boxes   text in {with_text} photos")
    print(f"speed-up {seconds[base] / seconds[fast]:.2f}x")
    lost = sum(_unpartnered(a, b) for a, b in zip(base_boxes, fast_boxes))
    new = sum(_unpartnered(b, a) for a, b in zip(base_boxes, fast_boxes))
    print(f"float boxes without an int8 partner (IoU >= 0.5): {lost}; int8 boxes without a float partner: {new}")


if __name__ == "__main__":
    main()
