"""What `scan --resume` pays to read back the results already written, before it scans on.

    .venv/bin/python benchmarks/resume_readback.py [--lines 200000] [--ocr-tokens 4] [--mode keys|summary] [--repeat 3]

Writes a RESULTS.jsonl of `lines` results shaped like a manifest scan's (a listing with
listing_id, seller_id and title; `ocr-tokens` OCR readings each; every 5th image flagged,
every 100th an error), then times one read-back of it as `--resume` does it
(`sinks.finished_keys`: every line parsed for its input key), with `--mode summary` also
counting each line into the summary (`cli._Tally`), and reports the best of `repeat` read-backs (wall and CPU seconds, lines/s) and the
process's peak RSS. Run each mode in its own process for a fair peak RSS. Not run in CI.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

from visionguard.results import AlteredName, BrandMention, OcrToken, ScanResult
from visionguard.sinks import JsonlSink, finished_keys


def result(number: int, tokens: int) -> ScanResult:
    if number % 100 == 99:
        return ScanResult.failed(f"crawl/shard-{number // 10_000:04d}.tar/{number:08d}.jpg",
                                 "corrupt or truncated image: Truncated File Read", listing={"listing_id": f"L{number}"})
    flagged = number % 5 == 0
    return ScanResult(
        path=f"crawl/shard-{number // 10_000:04d}.tar/{number:08d}.jpg",
        listing={"listing_id": f"L{number}", "seller_id": f"S{number % 977}", "title": "Running shoes, size 42, as new"},
        brand="adidas" if flagged else None, brand_score=0.91 if flagged else 0.0, brand_source="logo" if flagged else None,
        altered=[AlteredName("ADIBAS", "adidas", "look-alike", ["look-alike d->b"], 0.93, (200, 217, 442, 264))] if flagged else [],
        mentions=[BrandMention("adidas", "adidas", 0.97)] if flagged else [],
        duplicate_score=0.31, risk=0.86 if flagged else 0.0,
        reasons=["text 'ADIBAS' imitates adidas (look-alike d->b)"] if flagged else [],
        ocr=[OcrToken(f"word{i}", 0.9, (10 * i, 20, 10 * i + 80, 44)) for i in range(tokens)],
        width=800, height=800,
        timings_ms={"decode": 4.1, "embed_search": 80.2, "ocr": 610.5, "verify": 2.2, "total": 700.3},
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--ocr-tokens", type=int, default=4)
    parser.add_argument("--mode", choices=("keys", "summary"), default="summary")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "results.jsonl"
        with JsonlSink(path) as sink:
            for number in range(args.lines):
                sink.write(result(number, args.ocr_tokens))
        size = path.stat().st_size
        from visionguard.cli import _Tally

        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        times = []
        for _ in range(args.repeat):  # the file is in the page cache after writing: the parsing is measured
            started, cpu = time.perf_counter(), time.process_time()
            tally = _Tally()
            done = finished_keys(path, tally.add if args.mode == "summary" else None)
            times.append((time.perf_counter() - started, time.process_time() - cpu))
            assert sum(done.values()) == args.lines
            del done
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        elapsed, cpu = min(times)
        print(f"{args.mode}: {args.lines:,} lines, {size / 2**20:.0f} MiB ({size / args.lines:.0f} B/line): best of {args.repeat} "
              f"{elapsed:.2f} s wall, {cpu:.2f} s CPU, {args.lines / elapsed:,.0f} lines/s; peak RSS {peak / 1024:.0f} MiB "
              f"({(peak - before) / 1024:+.0f} MiB while reading back)")
        if args.mode == "summary":
            print(f"  counted: {dict(tally.counts)}; {len(tally.flagged)} flagged rows kept for the table")


if __name__ == "__main__":
    main()
