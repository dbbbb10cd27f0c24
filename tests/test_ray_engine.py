"""The Ray engine (`visionguard[ray]`) on a local 2-CPU cluster started by the tests: the same
answers as the local engine, bad images as error rows, a killed worker retried without losing
or duplicating rows, and `--resume` from the CLI."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import threading
import time
from pathlib import Path

import pytest
import ray

from visionguard import ray_engine
from visionguard.sources import iter_inputs

from badinputs import make_bad_inputs

CLI = [sys.executable, "-m", "visionguard"]


@pytest.fixture(scope="module")
def cluster():
    ray_engine.connect(num_cpus=2)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def mixed_inputs(tmp_path_factory, listings) -> list[Path]:
    """A folder (the listings plus bad files), a CSV manifest and a tar shard: 3 inputs."""
    folder, specs = listings
    root = tmp_path_factory.mktemp("ray_inputs")
    photos = root / "photos"
    shutil.copytree(folder, photos)
    make_bad_inputs(photos / "bad")
    names = sorted(specs)
    manifest = root / "listings.csv"
    rows = ["listing_id,image,seller_id"] + [f"{i},photos/{name},s{i % 3}" for i, name in enumerate(names[:6])]
    manifest.write_text("\n".join(rows) + "\n")
    shard = root / "shard.tar"
    with tarfile.open(shard, "w") as archive:
        for name in names[-5:]:
            archive.add(folder / name, arcname=f"inner/{name}")
    return [photos, manifest, shard]


def _comparable(row: dict) -> tuple[str, str]:
    row = dict(row)
    row.pop("timings_ms")
    return f"{row['path']}\t{row['listing'].get('listing_id')}", json.dumps(row, sort_keys=True)


def test_ray_scan_gives_the_local_engines_answers(cluster, scanner, index_dir, mixed_inputs):
    local = dict(_comparable(result.to_dict()) for result in scanner.scan(iter_inputs(mixed_inputs)))
    distributed = [_comparable(row) for row in ray_engine.iter_results(ray_engine.scan_inputs(mixed_inputs, index_dir))]

    assert len(distributed) == len(local) > 30
    assert dict(distributed) == local  # identical apart from timings, rows in any order
    rows = [json.loads(text) for _, text in distributed]
    assert any(row["status"] == "error" and row["path"].startswith("photos/bad/") for row in rows)
    assert any(row["path"].startswith("shard.tar/inner/") and row["status"] == "ok" for row in rows)
    assert {row["listing"].get("seller_id") for row in rows} >= {"s0", "s1", "s2"}


def test_scan_dataset_takes_a_users_ray_dataset(cluster, scanner, index_dir, listings):
    folder, specs = listings
    name = next(n for n, spec in specs.items() if spec.brand == "adidas")
    data = (folder / name).read_bytes()
    dataset = ray.data.from_items(
        [
            {"image": data, "path": name, "listing_id": 41},
            {"image": b"not an image", "path": "junk.jpg", "listing_id": 42},
        ]
    )
    rows = ray_engine.scan_dataset(dataset, index_dir, ocr=False).take_all()

    by_path = {row["path"]: row for row in rows}
    assert set(by_path) == {name, "junk.jpg"}
    assert by_path[name]["brand"] == scanner.scan_image(folder / name).brand == "adidas"
    assert json.loads(by_path[name]["result"])["listing"] == {"listing_id": 41}
    assert by_path["junk.jpg"]["status"] == "error"


def _worker_pids() -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                command = Path(f"/proc/{entry}/cmdline").read_bytes()
            except OSError:
                continue
            if b"_ScanWorker" in command:
                pids.append(int(entry))
    return pids


def test_a_killed_worker_is_retried_without_losing_or_duplicating_rows(cluster, index_dir, mixed_inputs):
    """SIGKILL one of two scan workers once results flow (OCR on keeps the run going for a while):
    Ray restarts it and retries its batches; every input still comes back exactly once."""
    expected = sorted(item.key for item in iter_inputs(mixed_inputs))
    results = ray_engine.scan_inputs(mixed_inputs, index_dir, batch_size=2, num_workers=2)
    keys: list[str] = []
    killed: list[int] = []
    seen: set[int] = set()
    finished = threading.Event()

    def kill_a_worker() -> None:
        both_up = None
        while not finished.is_set():
            pids = _worker_pids()
            seen.update(pids)
            both_up = both_up or (time.time() if len(pids) >= 2 else None)
            # Results flowing, or both workers up long enough to have loaded: one dies mid-run.
            if not killed and len(pids) >= 2 and (keys or time.time() - both_up > 20):
                os.kill(pids[0], signal.SIGKILL)
                killed.append(pids[0])
                remaining.append(len(expected) - len(keys))
            time.sleep(0.2)

    remaining: list[int] = []
    killer = threading.Thread(target=kill_a_worker)
    killer.start()
    try:
        for row in ray_engine.iter_results(results):
            listing_id = row["listing"].get("listing_id")
            keys.append(row["path"] if listing_id is None else f"{row['path']}\t{listing_id}")
    finally:
        finished.set()
        killer.join()

    assert killed, "no scan worker was found to kill"
    print(f"killed worker {killed[0]} with {remaining[0]} of {len(expected)} results outstanding; workers seen {sorted(seen)}")
    assert remaining[0] > 10, "the kill came too late to interrupt the run"
    assert len(seen) > 2, "no new worker replaced the killed one"
    assert sorted(keys) == expected  # every input exactly once


def test_cli_ray_engine_resumes_a_partial_scan(index_dir, mixed_inputs, tmp_path):
    """A results file holding part of the scan (as after a kill): `--engine ray --resume` adds
    exactly the missing inputs. Runs in its own process, which starts its own local cluster."""
    photos = mixed_inputs[0]
    full = tmp_path / "full.jsonl"
    subprocess.run([*CLI, "scan", str(photos), "--index", str(index_dir), "--out", str(full), "--no-ocr", "--no-summary"], check=True)
    lines = full.read_text().splitlines(keepends=True)
    partial = tmp_path / "partial.jsonl"
    partial.write_text("".join(lines[:10]) + lines[10][:25])  # ten results and a torn line

    done = subprocess.run(
        [*CLI, "scan", str(photos), "--index", str(index_dir), "--out", str(partial), "--no-ocr", "--no-summary",
         "--engine", "ray", "--num-workers", "1", "--resume"],
        capture_output=True, text=True, timeout=300,
    )

    assert done.returncode == 0, done.stderr
    assert "resuming: 10 of" in done.stderr
    resumed = [json.loads(line) for line in partial.read_text().splitlines()]
    assert sorted(row["path"] for row in resumed) == sorted(json.loads(line)["path"] for line in lines)
    expected = dict(_comparable(json.loads(line)) for line in lines)
    assert dict(_comparable(row) for row in resumed) == expected


def test_ray_engine_reports_a_missing_input_in_one_sentence(index_dir, tmp_path):
    done = subprocess.run(
        [*CLI, "scan", str(tmp_path / "nowhere"), "--index", str(index_dir), "--out", str(tmp_path / "r.jsonl"), "--engine", "ray"],
        capture_output=True, text=True,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].startswith("error: input")
    assert "Traceback" not in done.stderr


def test_an_input_that_could_not_be_read_travels_as_an_error_row():
    """A damaged tar shard's error line (`ScanInput.error`) survives the trip through Ray's blocks."""
    import numpy as np

    from visionguard.sources import ScanInput

    rows = ray_engine._input_rows([ScanInput(b"", "s.tar", error="cannot read tar shard: empty file"), ScanInput(b"\xff", "s.tar/a.jpg")])
    items = ray_engine.batch_inputs({column: np.array(values, dtype=object) for column, values in rows.items()})
    assert [(item.path, item.error, item.listing) for item in items] == [
        ("s.tar", "cannot read tar shard: empty file", {}), ("s.tar/a.jpg", None, {})
    ]
    assert items[1].source == b"\xff"
