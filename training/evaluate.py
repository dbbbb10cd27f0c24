r"""Evaluate an embedding model on brands and photos it never saw, next to the ImageNet baseline.

    python -m training.evaluate --model visionguard-lite0-v2 \
        --simple-icons build/training/simple-icons --photos build/training/photos

Reports, for the model and for `efficientnet-lite0-imagenet` measured in the same run:
- retrieval on held-out brands: a listing-like logo view (query) against clean gallery
  images of every held-out brand (colour, black, plate): Recall@1; and MAP@R among the
  queries themselves;
- near-duplicates on held-out photos: copy edits (crop 5-20%, resize, watermark, frame,
  JPEG 30-95) against their originals, and different photos of the same scenes (other tiles
  of each photograph) with the same logos: recall and false duplicates of the scan's rule
  (the top-5 gallery photos by product similarity, verified pixel by pixel, `verify.py`),
  and of the embedding alone at the model's threshold and at 0.5% false duplicates;
- end to end through `visionguard scan --no-ocr`: an index of held-out brands' gallery
  images, listing photos with the logo at 10-60% of the width (and separately 10-25%), and
  logo-free photos: top-1 brand accuracy and false brands.
Everything is generated from seeds, so two runs with the same arguments print the same data.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
from PIL import Image

from training import check_arguments, data, run
from visionguard.embed import trim_border
from visionguard.errors import VisionGuardError
from visionguard.models import BASELINE_MODEL, EmbeddingModel, create_model
from visionguard.search import SearchThresholds
from visionguard.verify import GALLERY_KEYPOINTS, best_copy, extract_keypoints


def retrieval(model: EmbeddingModel, logos_by_brand: dict, brands: list[str], photos, seed: int, per_brand: int = 4) -> dict:
    rng = np.random.default_rng(seed)
    refs, ref_labels, queries, query_labels = [], [], [], []
    for label, brand in enumerate(brands):
        logo = logos_by_brand[brand][0]
        for style in data.GALLERY_STYLES:
            refs.append(data.gallery_view(logo, style, 256))
            ref_labels.append(label)
        for _ in range(per_brand):
            queries.append(data.logo_view(logos_by_brand[brand][int(rng.integers(len(logos_by_brand[brand])))], photos, rng, 256))
            query_labels.append(label)
    ref_labels, query_labels = np.array(ref_labels), np.array(query_labels)
    r, q = model.embed(refs), model.embed(queries)
    recall = float((ref_labels[(q @ r.T).argmax(axis=1)] == query_labels).mean())
    similarity = q @ q.T
    np.fill_diagonal(similarity, -np.inf)
    order = np.argsort(-similarity, axis=1)
    precisions = []
    for row in range(len(q)):
        relevant = int((query_labels == query_labels[row]).sum()) - 1
        if relevant == 0:
            continue
        hits = query_labels[order[row, :relevant]] == query_labels[row]
        precisions.append(float((np.cumsum(hits) / np.arange(1, relevant + 1) * hits).sum() / relevant))
    return {"brands": len(brands), "queries": len(q), "recall_at_1": recall, "map_at_r": float(np.mean(precisions))}


def duplicate_scores(model: EmbeddingModel, photos, logos: list, seed: int, copies: int = 6, variants: int = 6,
                     grid: int = 4) -> dict:
    """Similarities of copies to their original and of other photos to their nearest original.

    The photos are cut into tiles that share no pixels (`data.photo_tiles`); half the tiles
    become originals (a listing photo of the tile, with a logo half the time), the other half
    distractors: `variants` listing photos per tile, with or without a logo (the same logos as
    the originals). Copies are `data.copy_edit`s of the originals."""
    rng = np.random.default_rng(seed)
    tiles = data.photo_tiles(photos, grid)
    order = rng.permutation(len(tiles))
    gallery_tiles, other_tiles = order[: len(order) // 2], order[len(order) // 2 :]

    def photo(tile: int) -> np.ndarray:
        logo = logos[int(rng.integers(len(logos)))] if rng.random() < 0.5 else None
        return data.listing_photo(logo, [tiles[tile]], rng, size=(640, 480), scale=(0.15, 0.5), plain=0.0)

    gallery, queries, truth = [], [], []
    for i, tile in enumerate(gallery_tiles):
        gallery.append(photo(tile))
        for _ in range(copies):
            queries.append(data.copy_edit(gallery[-1], rng))
            truth.append(i)
    others = [photo(tile) for tile in other_tiles for _ in range(variants)]
    gallery, queries, others = ([trim_border(image) for image in images] for images in (gallery, queries, others))  # as the scan
    _, g = model.embed_with_products(gallery)
    _, q = model.embed_with_products(queries)
    _, o = model.embed_with_products(others)
    store = [extract_keypoints(image, GALLERY_KEYPOINTS) for image in gallery]
    copy_sim, other_sim = q @ g.T, o @ g.T
    return {
        "copy_score": copy_sim[np.arange(len(q)), truth],
        "copy_top1": copy_sim.argmax(axis=1) == np.array(truth),
        "other_score": other_sim.max(axis=1),
        "copy_verified": np.array([_verified(image, sims, store) for image, sims in zip(queries, copy_sim)]) == np.array(truth),
        "other_verified": np.array([_verified(image, sims, store) for image, sims in zip(others, other_sim)]) >= 0,
    }


def _verified(image: np.ndarray, similarities: np.ndarray, store: list) -> int:
    """The gallery photo the scan's verification confirms among its candidates, or -1."""
    limits = SearchThresholds()
    candidates = [(int(row), float(similarities[row])) for row in np.argsort(-similarities)[: limits.copy_top]
                  if similarities[row] >= limits.copy_candidate]
    found, _ = best_copy(extract_keypoints(image), candidates, store, limits)
    return -1 if found is None else found[0]


def duplicate_metrics(scores: dict, threshold: float, false_rate: float = 0.005) -> dict:
    """Recall and false duplicates at `threshold`, and recall at the threshold that lets through
    `false_rate` of the other photos (a comparison of models that ignores calibration)."""
    found = scores["copy_top1"] & (scores["copy_score"] >= threshold)
    others = np.sort(scores["other_score"])
    fixed = float(others[len(others) - int(np.floor(false_rate * len(others))) - 1]) + 1e-6
    figures = {
        "threshold": threshold,
        "copies": len(found),
        "recall": float(found.mean()),
        "others": len(others),
        "false_duplicate_rate": float((scores["other_score"] >= threshold).mean()),
        f"recall_at_{false_rate:.1%}_false": float((scores["copy_top1"] & (scores["copy_score"] >= fixed)).mean()),
    }
    if "copy_verified" in scores:  # the scan's rule: the pixels of a verified candidate agree
        figures["verified_recall"] = float(scores["copy_verified"].mean())
        figures["verified_false_duplicate_rate"] = float(scores["other_verified"].mean())
    return figures


def write_gallery(folder: Path, logos_by_brand: dict, brands: list[str]) -> None:
    """Three logo files per brand (colour, black, plate), in the logo's own aspect as users keep them."""
    for brand in brands:
        (folder / brand).mkdir(parents=True, exist_ok=True)
        for style in data.GALLERY_STYLES:
            Image.fromarray(data.gallery_view(logos_by_brand[brand][0], style, None)).save(folder / brand / f"logo_{style}.png")


def write_listings(folder: Path, logos_by_brand: dict, brands: list[str], photos, seed: int, per_brand: int = 2,
                   scale: tuple[float, float] = (0.1, 0.6), logo_free: int | None = None) -> dict[str, str | None]:
    """Listing photos: `per_brand` per brand with the logo at `scale` of the width, and logo-free ones."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    expected: dict[str, str | None] = {}
    for brand in brands:
        for i in range(per_brand):
            name = f"{brand}-{i}.jpg"
            logo = logos_by_brand[brand][int(rng.integers(len(logos_by_brand[brand])))]
            Image.fromarray(data.listing_photo(logo, photos, rng, scale=scale)).save(folder / name, quality=90)
            expected[name] = brand
    for i in range(len(expected) if logo_free is None else logo_free):
        name = f"no-logo-{i}.jpg"
        Image.fromarray(data.listing_photo(None, photos, rng)).save(folder / name, quality=90)
        expected[name] = None
    return expected


def _run(command: list[str]) -> None:
    """Run a CLI step; on failure raise with its own one-line error, which the CLI prints to stderr."""
    finished = subprocess.run(command, capture_output=True, text=True)
    if finished.returncode:
        raise RuntimeError(f"{' '.join(command[2:4])} failed: {finished.stderr.strip()[-500:]}")


def scan_cli(gallery: Path, listings: Path, model: str, work: Path, options: tuple[str, ...] = ()) -> tuple[list[dict], float]:
    """Index the gallery and scan the listings with the `visionguard` CLI; (results, seconds)."""
    index, out = work / f"index-{Path(model).stem}", work / f"results-{Path(model).stem}.jsonl"
    cli = [sys.executable, "-m", "visionguard"]
    if not index.exists():
        _run(cli + ["index", "build", str(gallery), "--out", str(index), "--model", model])
    started = time.perf_counter()
    weights = ["--model", model] if model.endswith(".safetensors") else []  # a shipped name is found from the index
    _run(cli + ["scan", str(listings), "--index", str(index), "--out", str(out), "--no-ocr", "--no-summary", *weights, *options])
    elapsed = time.perf_counter() - started
    return [json.loads(line) for line in out.read_text().splitlines()], elapsed


def end_to_end(results: list[dict], expected: dict[str, str | None]) -> dict:
    branded = [r for r in results if expected.get(r["path"])]
    free = [r for r in results if r["path"] in expected and expected[r["path"]] is None]
    return {
        "logo_photos": len(branded),
        "top1_brand": float(np.mean([r.get("brand") == expected[r["path"]] for r in branded])) if branded else None,
        "logo_free_photos": len(free),
        "false_brand_rate": float(np.mean([r.get("brand") is not None for r in free])) if free else None,
    }


def add_material_arguments(parser: argparse.ArgumentParser) -> None:
    """The options `load_material` reads, shared with training.calibrate."""
    parser.add_argument("--simple-icons", type=Path, help="unpacked npm simple-icons package (training/fetch_data.sh)")
    parser.add_argument("--image-folder", type=Path, help="your own brand imagery, <brand>/*.jpg|png")
    parser.add_argument("--photos", type=Path, help="background photographs (scikit-image samples are always added)")
    parser.add_argument("--held-out", type=float, default=0.2,
                        help="fraction of brands held out, by a hash of the name: give the value training used")


def load_material(args) -> tuple[dict, list[str], list[str], list, list]:
    logos_by_brand = data.load_brands(args.simple_icons, args.image_folder, Path(args.work) / "masks")
    train_brands, held_brands = data.split_brands(list(logos_by_brand), args.held_out)
    train_photos, held_photos = data.split_photos(data.load_photos(args.photos))
    return logos_by_brand, train_brands, held_brands, train_photos, held_photos


def held_out_material(simple_icons: Path, photos: Path, work: Path, brands: int = 100) -> tuple[dict, list[str], list]:
    """What the end-to-end benchmarks scan: logos by brand, the first `brands` held-out brands
    (the split of training), and the held-out photos."""
    args = SimpleNamespace(simple_icons=simple_icons, image_folder=None, photos=photos, held_out=0.2, work=work)
    logos_by_brand, _, held_brands, _, held_photos = load_material(args)
    return logos_by_brand, held_brands[:brands], held_photos


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="visionguard-lite0-v2", help="a registered name or a .safetensors path")
    parser.add_argument("--baseline", default=BASELINE_MODEL, help="measured in the same run, beside --model")
    add_material_arguments(parser)
    parser.add_argument("--brands", type=int, default=300, help="held-out brands in the retrieval test")
    parser.add_argument("--scan-brands", type=int, default=100, help="held-out brands in the end-to-end index")
    parser.add_argument("--seed", type=int, default=100, help="seed of the generated listings")
    parser.add_argument("--work", type=Path, default=Path("build/training/eval"),
                        help="scratch folder, relative to the current one: rendered glyph masks are cached there "
                             "between runs; each run's gallery, listings and index go to a temporary folder inside it "
                             "(default: %(default)s)")
    parser.add_argument("--skip-scan", action="store_true", help="skip the end-to-end visionguard scan runs (the slow part)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    check_arguments(parser, args)
    args.work.mkdir(parents=True, exist_ok=True)
    logos_by_brand, _, held_brands, _, held_photos = load_material(args)
    if len(held_brands) < 2:
        raise VisionGuardError(
            f"{len(held_brands)} of the {len(logos_by_brand)} brands are held out (--held-out {args.held_out}, by a hash "
            "of the name): retrieval needs two or more; give more brands or a larger --held-out"
        )
    held = held_brands[: args.brands]
    report: dict = {"held_out_brands": len(held_brands), "held_out_photos": len(held_photos), "models": {}}
    for name in (args.model, args.baseline):
        model = create_model(name)
        started = time.perf_counter()
        entry = {"retrieval": retrieval(model, logos_by_brand, held, held_photos, args.seed)}
        threshold = model.thresholds.get("duplicate", 0.68)
        entry["near_duplicates"] = duplicate_metrics(
            duplicate_scores(model, held_photos, [logos_by_brand[b][0] for b in held], args.seed + 1), threshold
        )
        entry["seconds"] = round(time.perf_counter() - started, 1)
        report["models"][name] = entry
        print(json.dumps({name: entry}, indent=1), flush=True)
    if not args.skip_scan:
        with tempfile.TemporaryDirectory(dir=args.work) as tmp:
            work = Path(tmp)
            scan_brands = held_brands[: args.scan_brands]
            write_gallery(work / "gallery", logos_by_brand, scan_brands)
            sets = {
                "logo_10_60": write_listings(work / "l1060", logos_by_brand, scan_brands, held_photos, args.seed + 2),
                "logo_10_25": write_listings(work / "l1025", logos_by_brand, scan_brands, held_photos, args.seed + 3,
                                             per_brand=1, scale=(0.1, 0.25), logo_free=0),
            }
            runs = [(name, label, ()) for name in (args.model, args.baseline) for label in sets]
            runs += [(name, "logo_10_25", ("--small-logos",)) for name in (args.model, args.baseline)]
            for name, label, options in runs:
                folder = work / label.replace("logo_", "l").replace("_", "")
                results, seconds = scan_cli(work / "gallery", folder, name, work, options)
                figures = end_to_end(results, sets[label])
                figures["scan_seconds_per_image"] = round(seconds / max(1, len(results)), 3)
                key = f"end_to_end_{label}" + ("_small_logos" if options else "")
                report["models"][name][key] = figures
                print(json.dumps({name: {key: figures}}), flush=True)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(run(main))
