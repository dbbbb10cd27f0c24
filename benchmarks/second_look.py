r"""The scan's second look at unsure photos (`visionguard/refine.py`), next to the scan without it.

    .venv/bin/python benchmarks/second_look.py --simple-icons build/training/simple-icons \
        --photos build/training/photos [--seeds 100 7 300] [--baseline-logo 0.77] [--small-logos]

End to end on held-out brands (`training/evaluate.py`'s sets: 100 held-out brands, logos at
10-60% of the width with as many logo-free photos, and logos at 10-25%), scanned in-process
without OCR: top-1 brand, false brands on logo-free photos, how many photos got a second look
and its time per photo (`timings_ms["refine"]`), and images/s, both ways in the same run. The baseline runs at
`--baseline-logo`, the threshold `training.calibrate` chose without the second look (0.77 for
v2); the second look at the model card's threshold (0.78, chosen with it). `--small-logos` runs
both with the scan's `--small-logos` windows.
Not run in CI: it needs the training material (`training/fetch_data.sh`) and minutes.
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path

import torch

from training import evaluate
from visionguard import Scanner, build_index


def scan(index: Path, listings: Path, second_look: bool, baseline_logo: float, small_logos: bool = False) -> tuple[list[dict], float]:
    """(results, images/s) of a `--no-ocr` scan with or without the second look."""
    scanner = Scanner.load(index, ocr=False, refine=second_look, small_logos=small_logos)
    if not second_look:
        scanner.options.thresholds = dataclasses.replace(scanner.options.thresholds, logo=baseline_logo)
    started = time.perf_counter()
    results = [r.to_dict() for r in scanner.scan_folder(listings)]
    return results, len(results) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--simple-icons", type=Path, required=True)
    parser.add_argument("--photos", type=Path, required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=[100, 7, 300])
    parser.add_argument("--baseline-logo", type=float, default=0.77)
    parser.add_argument("--work", type=Path, default=Path("build/second-look"))
    parser.add_argument("--small-logos", action="store_true", help="both scans with the --small-logos windows")
    args = parser.parse_args()
    torch.set_num_threads(2)
    args.work.mkdir(parents=True, exist_ok=True)
    logos, brands, held_photos = evaluate.held_out_material(args.simple_icons, args.photos, args.work)
    print(f"end to end, 100 held-out brands, no OCR{', --small-logos' if args.small_logos else ''}: top-1 brand / false brands on logo-free photos; "
          "photos looked at again and the ms it took each; images/s")
    for seed in args.seeds:
        with tempfile.TemporaryDirectory(dir=args.work) as tmp:
            folder = Path(tmp)
            evaluate.write_gallery(folder / "gallery", logos, brands)
            build_index(folder / "gallery", folder / "index")
            sets = {
                "logos 10-60%": (evaluate.write_listings(folder / "wide", logos, brands, held_photos, seed + 2), "wide"),
                "logos 10-25%": (evaluate.write_listings(folder / "small", logos, brands, held_photos, seed + 3, per_brand=1,
                                                         scale=(0.1, 0.25), logo_free=0), "small"),
            }
            for label, (expected, name) in sets.items():
                row = []
                for second_look in (False, True):
                    results, rate = scan(folder / "index", folder / name, second_look, args.baseline_logo, args.small_logos)
                    looked = [r["timings_ms"]["refine"] for r in results if "refine" in r.get("timings_ms", {})]
                    figures = evaluate.end_to_end(results, expected)
                    false = "" if figures["false_brand_rate"] is None else f" / {figures['false_brand_rate']:.3f}"
                    way = "second look" if second_look else f"without ({args.baseline_logo})"
                    row.append(f"{way} {figures['top1_brand']:.3f}{false}, looked again at {len(looked)} of {len(results)} "
                               f"({sum(looked) / max(1, len(looked)):.0f} ms each), {rate:.1f}/s")
                print(f"  seed {seed:4} {label:13} " + "   ".join(row), flush=True)


if __name__ == "__main__":
    main()
