r"""Calibrate a trained model's similarity thresholds and write them into its model card.

    python -m training.calibrate build/training/run/visionguard-lite0-v1.safetensors \
        --simple-icons build/training/simple-icons --photos build/training/photos

Uses training brands and training photos only (fresh seeds), never the held-out ones that
`training.evaluate` reports on:
- logo: the scan's own search (`embed_images` + `search_gallery`, and the second look of
  `visionguard/refine.py` for photos scoring from `--refine-floor` up to the threshold) over an
  index of training brands, on listing photos with a logo at 10-60% of the width and on
  logo-free photos; the (threshold, margin) pair with the best top-1 brand accuracy among
  those that keep false brands on logo-free photos at or below `--max-false-brand`;
- duplicate: the lowest threshold whose false-duplicate rate on other photos of the same
  scenes stays at or below `--max-false-duplicate`.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

from training import check_arguments, evaluate, run
from visionguard.decode import decode
from visionguard.embed import embed_images
from visionguard.index import build_index
from visionguard.models import create_model
from visionguard.refine import refine_matches
from visionguard.search import SearchThresholds, decide_brand, search_gallery


def logo_thresholds(model, logos_by_brand, brands, photos, seed, work: Path, max_false_brand: float,
                    refine_floor: float | None = None) -> dict:
    evaluate.write_gallery(work / "gallery", logos_by_brand, brands)
    expected = evaluate.write_listings(work / "listings", logos_by_brand, brands, photos, seed)
    index = build_index(work / "gallery", work / "index", model=model)
    names = sorted(expected)
    everything = SearchThresholds(logo=-1.0, logo_margin=-1.0, duplicate=2.0)
    # The scan's second look (refine.py) runs below the threshold being chosen: take every
    # photo's verdict both without and with it, and pick per threshold below.
    look_again = SearchThresholds(logo=2.0, logo_margin=-1.0, duplicate=2.0, refine_floor=refine_floor)
    first, second = [], []
    for start in range(0, len(names), 16):
        images = [decode(work / "listings" / name) for name in names[start : start + 16]]
        embeddings = embed_images(model, images)
        matches = search_gallery(index, embeddings, everything)
        first += [(m.brand, m.brand_score, m.brand_score - m.runner_up_score) for m in matches]
        if refine_floor is not None:
            refine_matches(model, index, images, embeddings, matches, look_again)
            for match in matches:
                decide_brand(index, match, everything)
        second += [(m.brand, m.brand_score, m.brand_score - m.runner_up_score) for m in matches]
    truth = np.array([expected[n] or "" for n in names])
    has_logo = truth != ""
    columns = [(np.array([p or "" for p, _, _ in way]), np.array([b for _, b, _ in way]), np.array([m for _, _, m in way]))
               for way in (first, second)]
    choice = None
    for threshold in np.arange(0.2, 0.95, 0.01):
        sure = columns[0][1] >= threshold
        predicted, best, margin = (np.where(sure, a, b) for a, b in zip(*columns))
        for needed in np.arange(0.0, 0.3, 0.01):
            accept = (best >= threshold) & (margin >= needed)
            false_rate = accept[~has_logo].mean()
            if false_rate > max_false_brand:
                continue
            top1 = (accept & (predicted == truth))[has_logo].mean()
            if choice is None or top1 > choice[0] + 1e-9:
                choice = (float(top1), float(false_rate), round(float(threshold), 2), round(float(needed), 2))
    top1, false_rate, threshold, needed = choice
    free = int((~has_logo).sum())
    if free * max_false_brand < 1:  # one false brand is already over the target: the threshold is a guess
        print(f"warning: {free} logo-free photos cannot resolve --max-false-brand {max_false_brand} (one false brand "
              f"is {1 / max(free, 1):.1%}); the thresholds are rough: calibrate with more brands (--brands) and photos",
              file=sys.stderr)
    chosen = {"logo": threshold, "logo_margin": needed}
    if refine_floor is not None:
        chosen["refine_floor"] = refine_floor
    return {**chosen, "calibration_top1": round(top1, 4),
            "calibration_false_brand": round(false_rate, 4), "calibration_images": len(names)}


def duplicate_threshold(model, photos, logos, seed, max_false_duplicate: float) -> dict:
    scores = evaluate.duplicate_scores(model, photos, logos, seed)
    others = np.sort(scores["other_score"])
    allowed = int(np.floor(max_false_duplicate * len(others)))
    threshold = float(others[len(others) - allowed - 1]) + 0.01
    figures = evaluate.duplicate_metrics(scores, round(threshold, 3))
    return {"duplicate": round(threshold, 3), "calibration_duplicate_recall": round(figures["recall"], 4),
            "calibration_false_duplicate": round(figures["false_duplicate_rate"], 4)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("weights", type=Path, help="a .safetensors file written by training.finetune or training.train")
    evaluate.add_material_arguments(parser)
    parser.add_argument("--brands", type=int, default=100, help="training brands in the calibration gallery and listings")
    parser.add_argument("--max-false-brand", type=float, default=0.005,
                        help="highest share of logo-free photos given a brand that the logo threshold may allow")
    parser.add_argument("--max-false-duplicate", type=float, default=0.002,
                        help="highest share of other photos called copies that the duplicate threshold may allow")
    parser.add_argument("--refine-floor", type=float, default=0.65,
                        help="the scan's second look (visionguard/refine.py) for best scores from here up to the threshold; 0: none")
    parser.add_argument("--seed", type=int, default=7, help="seed of the generated listings")
    parser.add_argument("--work", type=Path, default=Path("build/training/calibrate"),
                        help="scratch folder, relative to the current one: rendered glyph masks are cached there "
                             "between runs; each run's gallery, listings and index go to a temporary folder inside it "
                             "(default: %(default)s)")
    args = parser.parse_args(argv)
    check_arguments(parser, args)
    args.work.mkdir(parents=True, exist_ok=True)
    logos_by_brand, train_brands, _, train_photos, _ = evaluate.load_material(args)
    rng = np.random.default_rng(args.seed)
    brands = sorted(rng.choice(train_brands, size=min(args.brands, len(train_brands)), replace=False).tolist())
    model = create_model(str(args.weights))
    with tempfile.TemporaryDirectory(dir=args.work) as tmp:
        thresholds = logo_thresholds(model, logos_by_brand, brands, train_photos, args.seed, Path(tmp), args.max_false_brand,
                                     args.refine_floor or None)
    thresholds.update(duplicate_threshold(model, train_photos, [logos_by_brand[b][0] for b in brands], args.seed + 1,
                                          args.max_false_duplicate))
    card_path = args.weights.with_suffix(".json")
    card = json.loads(card_path.read_text())
    card["thresholds"] = {k: thresholds[k] for k in ("logo", "logo_margin", "refine_floor", "duplicate") if k in thresholds}
    card["calibration"] = {k: v for k, v in thresholds.items() if k.startswith("calibration")}
    card_path.write_text(json.dumps(card, indent=1) + "\n")
    print(json.dumps(thresholds, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(run(main))
