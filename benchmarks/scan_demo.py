"""Scan throughput on the bundled demo listings, next to decoding alone (the ceiling).

    .venv/bin/python benchmarks/scan_demo.py [--repeat 3]

Prints model/OCR load time, images/s with OCR on and off (and off with the model on eager
torch instead of the default runtime, OpenVINO), per-stage milliseconds per image,
and the process's peak RSS. Not run in CI: numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from visionguard import Scanner, build_index
from visionguard.decode import decode
from visionguard.errors import DecodeError
from visionguard.sources import iter_image_files

DEMO = Path(__file__).resolve().parents[1] / "indexes" / "demo"


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed_scan(scanner: Scanner, files: list[tuple[str, str]], repeat: int) -> tuple[float, dict[str, float]]:
    stages: dict[str, float] = defaultdict(float)
    count = 0
    started = time.perf_counter()
    for _ in range(repeat):
        for result in scanner.scan(files):
            count += 1
            for stage, ms in result.timings_ms.items():
                stages[stage] += ms
    elapsed = time.perf_counter() - started
    return count / elapsed, {k: v / count for k, v in stages.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--listings", type=Path, default=DEMO / "listings")
    parser.add_argument("--gallery", type=Path, default=DEMO / "gallery")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    files = list(iter_image_files(args.listings))

    started = time.perf_counter()
    for _ in range(args.repeat):
        for path, _ in files:
            try:
                decode(path)
            except DecodeError:
                pass
    decode_rate = len(files) * args.repeat / (time.perf_counter() - started)

    with tempfile.TemporaryDirectory() as index_dir:
        started = time.perf_counter()
        build_index(args.gallery, index_dir)
        build_s = time.perf_counter() - started
        started = time.perf_counter()
        scanner = Scanner.load(index_dir)
        scanner.ocr_engine  # noqa: B018 - load EasyOCR now, not inside the timed loop
        load_s = time.perf_counter() - started
        scanner.scan_image(files[0][0])  # warm-up
        rate_ocr, stages_ocr = timed_scan(scanner, files, args.repeat)
        scanner.options.ocr = False
        rate_no_ocr, stages_no_ocr = timed_scan(scanner, files, args.repeat)
        eager = Scanner.load(index_dir, runtime="torch", ocr=False)
        eager.scan_image(files[0][0])
        rate_torch, stages_torch = timed_scan(eager, files, args.repeat)

    print(f"inputs: {len(files)} files in {args.listings} x {args.repeat} repeats")
    print(f"index build: {build_s:.1f}s   model+OCR load: {load_s:.1f}s")
    print(f"{'pipeline':<28}{'images/s':>10}{'vs decode':>11}   ms/image by stage")
    print(f"{'decode only (ceiling)':<28}{decode_rate:>10.1f}{1.0:>11.3f}")
    rows = (
        ("scan, OCR on (default)", rate_ocr, stages_ocr),
        ("scan, --no-ocr", rate_no_ocr, stages_no_ocr),
        ("scan, --no-ocr, torch", rate_torch, stages_torch),
    )
    for label, rate, stages in rows:
        detail = "  ".join(f"{k} {v:.0f}" for k, v in stages.items())
        print(f"{label:<28}{rate:>10.2f}{rate / decode_rate:>11.4f}   {detail}")
    print(f"peak RSS: {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
