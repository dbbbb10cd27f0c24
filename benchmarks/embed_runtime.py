"""Embedding throughput: ONNX Runtime and OpenVINO next to eager torch (the baseline), same images, same run.

    .venv/bin/python benchmarks/embed_runtime.py [--images 48] [--threads 2]

For each shipped model (or those named by --models), embeds the scan's workload (the whole
photo and its 9 crop windows, `visionguard.embed.embed_images`) of generated 800x800 listing photos
on eager torch, ONNX Runtime, OpenVINO in float32 and, where the CPU computes it natively,
OpenVINO in bfloat16 (the scan's default there), and prints images/s, milliseconds per image,
the export/load time, the largest vector difference from torch and the lowest cosine to it.
Not run in CI: numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from visionguard.embed import embed_images
from visionguard.models import BASELINE_MODEL, TRAINED_MODEL, create_model
from visionguard.models.runtime import cpu_has_bf16
from training import data

DEMO_GALLERY = Path(__file__).resolve().parents[1] / "indexes" / "demo" / "gallery"


def listing_photos(count: int, size: int, seed: int) -> list[np.ndarray]:
    """Demo-gallery logos composed on real photographs (scikit-image samples)."""
    rng = np.random.default_rng(seed)
    logos, photos = data.load_image_folder(DEMO_GALLERY), data.load_photos(None)
    return [data.listing_photo(logos[i % len(logos)], photos, rng, size=(size, size)) for i in range(count)]


def measure(name: str, runtime: str, precision: str, images: list[np.ndarray]) -> tuple[float, float, np.ndarray]:
    started = time.perf_counter()
    model = create_model(name, runtime).use_runtime(runtime, precision)
    embed_images(model, images[:2])  # export (first time) and warm-up
    load_seconds = time.perf_counter() - started
    started = time.perf_counter()
    vectors = embed_images(model, images)
    rate = len(images) / (time.perf_counter() - started)
    return load_seconds, rate, np.stack([v.whole for v in vectors] + [c for v in vectors for c in v.crops])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=48)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--models", nargs="+", default=[BASELINE_MODEL, TRAINED_MODEL, "visionguard-lite0-v1"],
                        help="shipped names or .safetensors paths")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    images = listing_photos(args.images, size=800, seed=0)
    print(f"{args.images} listing photos 800x800, whole photo + 9 crops each, {args.threads} threads")
    print(f"{'model':30} {'runtime':14} {'load s':>7} {'images/s':>9} {'ms/image':>9} {'vs torch':>9} {'max |diff|':>11} {'min cosine':>11}")
    ways = [("torch", "f32"), ("onnx", "f32"), ("openvino", "f32")] + ([("openvino", "bf16")] if cpu_has_bf16() else [])
    for name in args.models:
        results = {f"{runtime} {precision}": measure(name, runtime, precision, images) for runtime, precision in ways}
        base_rate, reference = results["torch f32"][1], results["torch f32"][2]
        for way, (load, rate, vectors) in results.items():
            diff = float(np.abs(vectors - reference).max())
            cosine = float(np.min(np.sum(vectors * reference, axis=1)))
            print(f"{name:30} {way:14} {load:7.1f} {rate:9.1f} {1000 / rate:9.1f} {rate / base_rate:8.1f}x {diff:11.2e} {cosine:11.5f}")


if __name__ == "__main__":
    main()
