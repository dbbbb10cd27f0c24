r"""The wordmark check (`visionguard/wordmark.py`) on held-out brands with OCR on, next to the scan without it.

    .venv/bin/python benchmarks/wordmark_check.py --simple-icons build/training/simple-icons \
        --photos build/training/photos [--seeds 100 7]

`training/evaluate.py`'s end-to-end sets (100 held-out brands, 200 listing photos with a logo
at 10-60% of the width and 200 logo-free ones), scanned in-process with OCR on, with and
without the check: top-1 brand, false brands on logo-free photos, and the logo verdicts it set
aside (those on logo photos listed, with the brand they showed). Its effect on printed words
is in `scan_throughput.py`'s "photos given a logo brand they do not show".
Not run in CI: it needs the training material (`training/fetch_data.sh`) and minutes.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch

from training import evaluate
from visionguard import Scanner, build_index


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--simple-icons", type=Path, required=True)
    parser.add_argument("--photos", type=Path, required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=[100, 7])
    parser.add_argument("--work", type=Path, default=Path("build/wordmark-check"))
    args = parser.parse_args()
    torch.set_num_threads(2)
    args.work.mkdir(parents=True, exist_ok=True)
    logos, brands, held_photos = evaluate.held_out_material(args.simple_icons, args.photos, args.work)
    print("end to end with OCR, 100 held-out brands: top-1 brand / false brands on logo-free photos; logo verdicts set aside")
    for seed in args.seeds:
        with tempfile.TemporaryDirectory(dir=args.work) as tmp:
            folder = Path(tmp)
            evaluate.write_gallery(folder / "gallery", logos, brands)
            build_index(folder / "gallery", folder / "index")
            expected = evaluate.write_listings(folder / "listings", logos, brands, held_photos, seed + 2)
            for check in (False, True):
                scanner = Scanner.load(folder / "index", workers=2, wordmark_check=check)
                results = [r.to_dict() for r in scanner.scan_folder(folder / "listings")]
                figures = evaluate.end_to_end(results, expected)
                aside = [r for r in results if any("set aside" in reason for reason in r["reasons"])]
                print(f"  seed {seed:4} {'with' if check else 'without':7} the check: {figures['top1_brand']:.3f} / "
                      f"{figures['false_brand_rate']:.3f}, set aside {len(aside)}", flush=True)
                for result in aside:
                    reason = next(reason for reason in result["reasons"] if "set aside" in reason)
                    print(f"      {result['path']} (shows {expected[result['path']]}): {reason}")


if __name__ == "__main__":
    main()
