r"""Crop windows from one shared trunk pass, next to windows cut out one by one (the baseline).

    .venv/bin/python benchmarks/window_sharing.py [--images 200] \
        [--simple-icons build/training/simple-icons --photos build/training/photos --seeds 100 7 300]

Speed: the scan's embedding work (`embed_images`: whole photo + 9 crop windows) on generated
800x800 listing photos, one thread (as each scan worker runs), images/s both ways, and how far
the window vectors move (cosine between the two ways).
Quality (with --simple-icons and --photos, the material of `training/fetch_data.sh`): the
end-to-end top-1 brand of `training/evaluate.py` (held-out brands, logos at 10-60% and 10-25%
of the width, logo-free photos for false brands), scanned in-process without OCR, both ways.
Not run in CI: numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import functools
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from visionguard.embed import crop_boxes, embed_images
from visionguard.models import TRAINED_MODEL, EmbeddingModel, create_model


def cut_windows(model: EmbeddingModel) -> EmbeddingModel:
    """The same model with every window cut out and embedded on its own (the base-class way)."""
    model.embed_windows = functools.partial(EmbeddingModel.embed_windows, model)
    return model


def speed(images: list[np.ndarray]) -> None:
    rates = {}
    for way in ("cut", "shared"):
        model = create_model(TRAINED_MODEL)
        if way == "cut":
            cut_windows(model)
        embed_images(model, images[:2])  # export (first time) and warm-up
        started = time.perf_counter()
        embed_images(model, images)
        rates[way] = len(images) / (time.perf_counter() - started)
    model = create_model(TRAINED_MODEL)
    boxes = [crop_boxes(image.shape[1], image.shape[0]) for image in images]
    agreement = np.sum(model.embed_windows(images, boxes) * EmbeddingModel.embed_windows(model, images, boxes), axis=1)
    print(f"{len(images)} photos 800x800, whole photo + 9 windows, one thread")
    for way, rate in rates.items():
        print(f"  {way:7} windows: {rate:6.1f} images/s  {1000 / rate:6.1f} ms/image  {rate / rates['cut']:.2f}x")
    print(f"  window cosine shared vs cut: mean {agreement.mean():.3f}, 1st percentile {np.percentile(agreement, 1):.3f}, "
          f"min {agreement.min():.3f}")


def quality(simple_icons: Path, photos: Path, seeds: list[int], work: Path) -> None:
    from training import evaluate
    from visionguard import Scanner, build_index

    logos, brands, held_photos = evaluate.held_out_material(simple_icons, photos, work)
    print("end to end, 100 held-out brands, no OCR: top-1 brand of logo photos / false brands on logo-free photos")
    for seed in seeds:
        with tempfile.TemporaryDirectory(dir=work) as tmp:
            folder = Path(tmp)
            evaluate.write_gallery(folder / "gallery", logos, brands)
            build_index(folder / "gallery", folder / "index")
            wide = evaluate.write_listings(folder / "l1060", logos, brands, held_photos, seed + 2)
            small = evaluate.write_listings(folder / "l1025", logos, brands, held_photos, seed + 3, per_brand=1,
                                            scale=(0.1, 0.25), logo_free=0)
            sets = {"logos 10-60%": (wide, "l1060", False), "logos 10-25%": (small, "l1025", False),
                    "logos 10-25%, --small-logos": (small, "l1025", True)}
            for label, (expected, name, small_logos) in sets.items():
                row = []
                for way in ("cut", "shared"):
                    scanner = Scanner.load(folder / "index", ocr=False, small_logos=small_logos)
                    if way == "cut":
                        cut_windows(scanner.model)
                    results = [r.to_dict() for r in scanner.scan_folder(folder / name)]
                    figures = evaluate.end_to_end(results, expected)
                    false = "" if figures["false_brand_rate"] is None else f" / {figures['false_brand_rate']:.3f}"
                    row.append(f"{way} {figures['top1_brand']:.3f}{false}")
                print(f"  seed {seed:4} {label:28} " + "   ".join(row), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--simple-icons", type=Path)
    parser.add_argument("--photos", type=Path)
    parser.add_argument("--seeds", type=int, nargs="+", default=[100])
    parser.add_argument("--work", type=Path, default=Path("build/window-sharing"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    from embed_runtime import listing_photos

    speed(listing_photos(args.images, size=800, seed=0))
    if args.simple_icons and args.photos:
        args.work.mkdir(parents=True, exist_ok=True)
        torch.set_num_threads(2)
        quality(args.simple_icons, args.photos, args.seeds, args.work)


if __name__ == "__main__":
    main()
