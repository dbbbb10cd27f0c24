"""The Ray engine next to the local engine, on the same input and the same machine.

    .venv/bin/python benchmarks/scan_ray.py --images 200 [--options "--no-ocr"] [--address ADDR]

Generates N listing photos (as `scan_throughput.py`: 800x800 JPEG, ~60% with text) under
build/bench/N, then runs `visionguard scan` on them twice, as a user does (a subprocess each,
loading included): the local engine, and `--engine ray` (a local cluster with all of this
machine's CPUs, or --address). Prints images/s, the wall time with and without start-up (time
to the first result line), the peak RSS of the largest single process and of all the
processes together (sampled every 0.2 s), and checks that both runs gave the same answers.
Not run in CI: numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from scan_throughput import GALLERY, make_listings  # noqa: E402


def _tree_rss_mb(root: int) -> tuple[float, float]:
    """(largest process, sum) resident memory of `root` and its descendants, in MB."""
    children: dict[int, list[int]] = {}
    rss: dict[int, float] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            status = Path(f"/proc/{entry}/status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        pid, parent = int(entry), int(fields["PPid"])
        children.setdefault(parent, []).append(pid)
        rss[pid] = float(fields.get("VmRSS", "0 kB").split()[0]) / 1024
    tree, stack = [], [root]
    while stack:
        pid = stack.pop()
        tree.append(pid)
        stack += children.get(pid, [])
    sizes = [rss.get(pid, 0.0) for pid in tree]
    return max(sizes), sum(sizes)


def run_scan(command: list[str], out: Path) -> dict:
    """Run one scan; time it to the first result line and to the end; sample memory."""
    out.unlink(missing_ok=True)
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak_one = peak_all = 0.0
    first = None
    while process.poll() is None:
        one, total = _tree_rss_mb(process.pid)
        peak_one, peak_all = max(peak_one, one), max(peak_all, total)
        if first is None and out.exists() and out.stat().st_size > 0:
            first = time.perf_counter() - started
        time.sleep(0.2)
    if process.returncode != 0:
        raise SystemExit(f"scan failed ({process.returncode}): {shlex.join(command)}")
    return {"wall": time.perf_counter() - started, "first": first or 0.0, "peak_one": peak_one, "peak_all": peak_all}


def answers(path: Path) -> dict[str, str]:
    rows = {}
    for line in path.read_text().splitlines():
        row = json.loads(line)
        row.pop("timings_ms")
        rows[row["path"]] = json.dumps(row, sort_keys=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--options", default="", help='extra `visionguard scan` options for both runs, e.g. "--no-ocr"')
    parser.add_argument("--address", default=None, help="Ray cluster to join (default: start a local one)")
    args = parser.parse_args()

    folder = ROOT / "build" / "bench" / str(args.images)
    make_listings(folder, args.images)
    count = len(list(folder.glob("*.jpg")))
    index_dir = ROOT / "build" / "bench" / "index"
    cli = [sys.executable, "-m", "visionguard"]
    subprocess.run([*cli, "index", "build", str(GALLERY), "--out", str(index_dir)], check=True, capture_output=True)
    base = [*cli, "scan", str(folder), "--index", str(index_dir), "--no-summary", *shlex.split(args.options)]
    ray = ["--engine", "ray"] + (["--address", args.address] if args.address else [])
    runs = {
        "local engine": (base + ["--out", str(ROOT / "build" / "bench" / "local.jsonl")], ROOT / "build" / "bench" / "local.jsonl"),
        "ray engine": (base + ray + ["--out", str(ROOT / "build" / "bench" / "ray.jsonl")], ROOT / "build" / "bench" / "ray.jsonl"),
    }
    print(f"{count} listing photos 800x800; options: {args.options or '(defaults)'}; {os.cpu_count()} CPUs")
    print(f"{'engine':<14}{'images/s':>10}{'after start':>13}{'wall s':>9}{'start s':>9}{'peak RSS 1 proc':>17}{'all procs':>11}")
    for label, (command, out) in runs.items():
        figures = run_scan(command, out)
        steady = count / max(figures["wall"] - figures["first"], 1e-9)
        print(
            f"{label:<14}{count / figures['wall']:>10.2f}{steady:>13.2f}{figures['wall']:>9.1f}{figures['first']:>9.1f}"
            f"{figures['peak_one']:>14.0f} MB{figures['peak_all']:>8.0f} MB"
        )
    local, distributed = (answers(out) for _, out in runs.values())
    same = local == distributed
    print(f"same answers (apart from timings): {same} ({len(local)} vs {len(distributed)} results)")
    print("'after start': images/s from the first result line to the end (loading and cluster start excluded)")


if __name__ == "__main__":
    main()
