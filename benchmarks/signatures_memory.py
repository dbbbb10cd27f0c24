"""What an index's file signatures (`signatures.json`) cost in memory once `index add`/`remove`
have read them, as the dict of dicts VisionGuard kept before and as `index.Signatures` keeps them.

    .venv/bin/python benchmarks/signatures_memory.py [--paths 200000]

Writes a signatures.json of `paths` gallery paths ("brand0042/products/photo_0001234.jpg",
...), in the layout `GalleryIndex.save` writes, then reads it both ways in this one run, each
with tracemalloc (Python's own allocations: what the result keeps once read, and the peak while
reading) and, each in a child process of its own, the RSS it adds once read and at its peak while
reading (Linux: /proc/self/status, the peak reset after the imports).
The gallery paths themselves are allocated before either is measured: an index holds them
anyway (`GalleryIndex.paths`), and the packed form keeps its entries under those same strings.
Not run in CI.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import subprocess
import sys
import tempfile
import tracemalloc
from pathlib import Path
from typing import Callable

from visionguard.index import Signature, _read_signatures


def gallery_paths(count: int) -> list[str]:
    """Paths as a large gallery has them: a few hundred brands, mostly product photos."""
    return [f"brand{k % 500:04d}/products/photo_{k:07d}.jpg" if k % 10 else f"brand{k % 500:04d}/logo_{k:07d}.png"
            for k in range(count)]


def write_signatures(path: Path, paths: list[str]) -> None:
    """signatures.json as `GalleryIndex.save` writes it: one path a line."""
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("{\n")
        for k, p in enumerate(paths):
            signature = Signature(40_000 + k, 1_764_000_000_000_000_000 + k * 1_000_003, hashlib.sha256(p.encode()).digest())
            handle.write(f"{',' if k else ''}\n{json.dumps(p)}: {json.dumps(signature.to_json())}" if k else
                         f"{json.dumps(p)}: {json.dumps(signature.to_json())}")
        handle.write("\n}\n")


def read_dicts(path: Path, paths: list[str]) -> dict[str, dict]:
    """As VisionGuard read it before `Signatures`: every entry a dict, under its own path string."""
    signatures = json.loads(path.read_text(encoding="utf-8"))
    return {
        p: signature for p, signature in signatures.items()
        if isinstance(signature, dict)
        and all(type(signature.get(key)) is int for key in ("size", "mtime_ns"))
        and isinstance(signature.get("sha256"), str)
    }


FORMS: dict[str, Callable[[Path, list[str]], object]] = {"dicts (before)": read_dicts, "packed (now)": _read_signatures}


def traced(read: Callable[[Path, list[str]], object], path: Path, paths: list[str]) -> tuple[int, int, int]:
    """Bytes the result keeps, the peak while reading (tracemalloc), and how many entries it has."""
    gc.collect()
    tracemalloc.start()
    result = read(path, paths)
    gc.collect()
    kept, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return kept, peak, len(result)


def rss_kib(field: str = "VmRSS") -> int:
    """The process's RSS now (VmRSS) or at its peak (VmHWM), in KiB (Linux)."""
    with open("/proc/self/status") as handle:
        return next(int(line.split()[1]) for line in handle if line.startswith(field + ":"))


def child(form: str, path: Path, count: int) -> None:
    """Run in a process of its own: the RSS one form adds, and the peak RSS."""
    paths = gallery_paths(count)
    before = rss_kib()
    with open("/proc/self/clear_refs", "w") as handle:  # the peak from here on, not the imports' (torch, FAISS)
        handle.write("5")
    result = FORMS[form](path, paths)
    gc.collect()
    print(json.dumps({"added_kib": rss_kib() - before, "peak_kib": rss_kib("VmHWM") - before, "entries": len(result)}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paths", type=int, default=200_000)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.file, args.paths)
        return
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "signatures.json"
        paths = gallery_paths(args.paths)
        write_signatures(path, paths)
        print(f"{args.paths:,} paths, signatures.json {path.stat().st_size / 2**20:.1f} MiB")
        for form, read in FORMS.items():
            kept, peak, entries = traced(read, path, paths)
            measured = json.loads(subprocess.run(
                [sys.executable, __file__, "--child", form, "--file", str(path), "--paths", str(args.paths)],
                check=True, capture_output=True, text=True).stdout)
            assert entries == measured["entries"] == args.paths
            print(f"{form:15} kept {kept / 2**20:6.1f} MiB ({kept / entries:4.0f} B a path), "
                  f"peak while reading {peak / 2**20:6.1f} MiB (tracemalloc); "
                  f"RSS added {measured['added_kib'] / 1024:6.1f} MiB, at its peak {measured['peak_kib'] / 1024:6.1f} MiB")


if __name__ == "__main__":
    main()
