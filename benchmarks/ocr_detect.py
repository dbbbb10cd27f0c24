"""Which text detector pays? Detection time and boxes of the scan's PP-OCR detector variants, in one run.

    .venv/bin/python benchmarks/ocr_detect.py [--folder build/bench/1000] [--images 200] [--sweep]

Runs PP-OCRv4's detector on ONNX Runtime (the baseline: the scan's engine before OpenVINO),
on OpenVINO in float32 and, where the CPU computes it natively, in bfloat16 (the scan's
default there; the other OpenVINO rows are float32), its int8 copy (`--ocr-detector ppocr-int8`, made by
`visionguard.ocr.quantize_detector` on first use),
both coarse to fine (`--ocr-coarse-side 480`: text looked for at 480 px, then full-size
detection around it only), and gated by the default model's text cells (`--text-cells`: full-size
detection only around the trunk cells its probe marks; the probe's own time printed apart) on the same photos at the scan's 960 px, one thread each (as a
scan worker runs it), and prints milliseconds per image, the speed-up over the first, and how
the boxes compare with the first's: its boxes without a partner of IoU >= 0.5, and new boxes.
`--sweep` also times the bare network on square inputs of 320-800 px, on both engines (the
cost grows with the pixels: why a smaller first look pays). The detector is most of a scan's OCR time.
Photos come from `scan_throughput.py` (800x800, ~60% with printed words). Not run in CI.
Recall of whole scans: `benchmarks/eval_image_text.py --scan-options "--ocr-coarse-side 480"`.
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


def _text_cells(photos: list[np.ndarray]) -> tuple[list[np.ndarray], float]:
    """Each photo's text cells from the default model (`--text-cells`), and the probe's own ms per photo."""
    from visionguard.embed import crop_boxes
    from visionguard.models import create_model
    from visionguard.models.lite0_metric import _window_cells, text_cell_logits

    model = create_model()
    _, cells = model.embed_windows_and_text(photos, [crop_boxes(p.shape[1], p.shape[0]) for p in photos])
    maps = [model.trunk_maps([p], _window_cells(p.shape, crop_boxes(p.shape[1], p.shape[0]), model.input_size)[0])[0] for p in photos[:20]]
    weight, bias, _ = model.text_probe
    started = time.perf_counter()
    for trunk_map in maps:
        text_cell_logits(trunk_map, weight, bias)
    return cells, (time.perf_counter() - started) * 1000 / len(maps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--folder", type=Path, default=ROOT / "build" / "bench" / "1000")
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--sweep", action="store_true", help="also time the bare network at 320-800 px")
    args = parser.parse_args()
    import torch

    from visionguard.models.runtime import cpu_has_bf16
    from visionguard.ocr import PpOcrDetector

    files = sorted(args.folder.glob("*.jpg"))[: args.images]
    if not files:
        raise SystemExit(f"no photos in {args.folder}: run benchmarks/scan_throughput.py first")
    photos = [np.asarray(Image.open(path).convert("RGB")) for path in files]
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    ort, f32 = "onnxruntime", "f32"
    detectors = {
        "ppocr, onnxruntime": PpOcrDetector(engine=ort),
        "ppocr (openvino)": PpOcrDetector(precision=f32),
        **({"ppocr (openvino bf16)": PpOcrDetector(precision="bf16")} if cpu_has_bf16() else {}),
        "ppocr-int8, onnxruntime": PpOcrDetector(quantized=True, engine=ort),
        "ppocr-int8 (openvino)": PpOcrDetector(quantized=True, precision=f32),
        "ppocr, coarse 480, ort": PpOcrDetector(coarse_side=480, engine=ort),
        "ppocr, coarse 480 (ov)": PpOcrDetector(coarse_side=480, precision=f32),
        "ppocr-int8, coarse 480 (ov)": PpOcrDetector(quantized=True, coarse_side=480, precision=f32),
    }
    runs = {name: (lambda detector: lambda i: detector.detect(photos[i]))(detector) for name, detector in detectors.items()}
    cells, probe_ms = _text_cells(photos)
    runs["ppocr, text cells (ov)"] = lambda i: detectors["ppocr (openvino)"].detect(photos[i], text_cells=cells[i])
    found, seconds = {}, {}
    for name, run in runs.items():
        run(0)  # warm-up
        started = time.perf_counter()
        found[name] = [[_box(q) for q in run(i)] for i in range(len(photos))]
        seconds[name] = time.perf_counter() - started
    base = next(iter(runs))
    print(f"{len(photos)} photos from {args.folder}, 960 px, one thread")
    print(f"{'detector':24s} {'ms/image':>9s} {'speed-up':>9s} {'boxes':>6s} {'text in':>8s} {'lost':>5s} {'new':>5s}")
    for name in runs:
        with_text = sum(1 for boxes in found[name] if boxes)
        lost = sum(_unpartnered(a, b) for a, b in zip(found[base], found[name]))
        new = sum(_unpartnered(b, a) for a, b in zip(found[base], found[name]))
        print(f"{name:24s} {seconds[name] * 1000 / len(photos):9.1f} {seconds[base] / seconds[name]:8.2f}x "
              f"{sum(map(len, found[name])):6d} {with_text:8d} {lost:5d} {new:5d}")
    print(f"lost: boxes of {base} without a partner of IoU >= 0.5; new: the other way round")
    print(f"text cells: the default model's probe on the trunk maps the scan computes anyway: {probe_ms:.2f} ms per image "
          f"(not in the row's time); {sum(1 for c in cells if not c.any())} photos with no cell marked, "
          f"{np.mean([c.mean() for c in cells]):.3f} of cells marked")
    if args.sweep:
        rng = np.random.default_rng(0)
        for name in [name for name in ("ppocr, onnxruntime", "ppocr (openvino)", "ppocr (openvino bf16)") if name in detectors]:
            network = detectors[name]._detector.infer
            for side in (320, 480, 640, 800):
                batch = rng.uniform(-1, 1, (1, 3, side, side)).astype(np.float32)
                network(batch)
                started = time.perf_counter()
                for _ in range(5):
                    network(batch)
                ms = (time.perf_counter() - started) * 200
                print(f"{name}: network alone at {side}x{side}: {ms:6.1f} ms, {ms / (side * side / 1e6):5.0f} ms per megapixel")


if __name__ == "__main__":
    main()
