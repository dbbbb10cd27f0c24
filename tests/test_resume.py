"""`scan --resume` after kill -9: exactly one line per input, nothing lost, nothing twice, and
the same answers as a scan that was never interrupted."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from visionguard.errors import VisionGuardError
from visionguard.sinks import finished_keys

CLI = [sys.executable, "-m", "visionguard"]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, listings) -> Path:
    """30 listing photos in two subfolders (the demo listings, repeated), one corrupt."""
    folder, specs = listings
    out = tmp_path_factory.mktemp("resume_inputs")
    for copy in range(4):
        for name in specs:
            target = out / f"part{copy % 2}" / f"{copy}_{name}"
            target.parent.mkdir(exist_ok=True)
            shutil.copy(folder / name, target)
    return out


def _scan_command(inputs: Path, index_dir: Path, out: Path, *extra: str) -> list[str]:
    return [*CLI, "scan", str(inputs), "--index", str(index_dir), "--out", str(out), "--no-ocr", "--batch-size", "1",
            "--no-summary", *extra]


def _lines(path: Path) -> list[dict]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    for row in rows:
        row.pop("timings_ms")
    return rows


def test_resume_after_kill_9_finishes_with_one_line_per_input(inputs, index_dir, tmp_path):
    count = sum(1 for p in inputs.rglob("*") if p.is_file())
    reference = tmp_path / "reference.jsonl"
    subprocess.run(_scan_command(inputs, index_dir, reference), check=True, capture_output=True, timeout=600)

    out = tmp_path / "results.jsonl"
    process = subprocess.Popen(_scan_command(inputs, index_dir, out), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and (not out.exists() or out.read_bytes().count(b"\n") < 5):
        time.sleep(0.01)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    written = out.read_bytes().count(b"\n")
    assert 5 <= written < count, "the kill must land mid-scan"
    with open(out, "ab") as handle:  # a line torn by the kill, as a write cut short leaves it
        handle.write(b'{"path": "part1/3_text_adi')

    done = subprocess.run(_scan_command(inputs, index_dir, out, "--resume"), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert f"{written} of {count} images already in" in done.stderr
    rows = _lines(out)
    paths = [row["path"] for row in rows]
    assert len(paths) == len(set(paths)) == count
    by_path = {row["path"]: row for row in _lines(reference)}
    assert {row["path"]: row for row in rows} == by_path

    again = subprocess.run(_scan_command(inputs, index_dir, out, "--resume"), capture_output=True, text=True, timeout=600)
    assert again.returncode == 0 and out.read_bytes().count(b"\n") == count  # a finished scan stays as it is


def test_resume_refuses_a_file_that_is_not_results(tmp_path):
    other = tmp_path / "notes.jsonl"
    other.write_text('{"path": "a.jpg", "status": "ok"}\nhello\n')
    with pytest.raises(VisionGuardError, match="line 2 of .* is not a VisionGuard result"):
        finished_keys(other)
    for line in ('{"path": "b.jpg", "listing": "L1"}', '{"path": 7}', "[1, 2]"):  # one sentence, not a traceback
        other.write_text('{"path": "a.jpg", "status": "ok"}\n' + line + "\n")
        with pytest.raises(VisionGuardError, match="line 2 of .* is not a VisionGuard result"):
            finished_keys(other)
    assert not finished_keys(tmp_path / "missing.jsonl")


def test_one_image_in_two_listings_is_two_inputs_on_resume(listings, index_dir, tmp_path):
    folder, _ = listings
    manifest = tmp_path / "m.jsonl"
    rows = [{"image": str(folder / "logo_puma.jpg"), "listing_id": lid} for lid in ("A", "B")]
    manifest.write_text("\n".join(json.dumps(row) for row in rows) + "\n")
    out = tmp_path / "r.jsonl"
    command = [*CLI, "scan", str(manifest), "--index", str(index_dir), "--out", str(out), "--no-ocr", "--no-summary"]
    subprocess.run(command, check=True, capture_output=True, timeout=600)
    out.write_text(out.read_text().splitlines(keepends=True)[0])  # as if stopped after listing A
    subprocess.run([*command, "--resume"], check=True, capture_output=True, timeout=600)
    assert [json.loads(line)["listing"]["listing_id"] for line in out.read_text().splitlines()] == ["A", "B"]


def test_sharded_results_resume_into_a_new_shard(inputs, index_dir, tmp_path):
    from visionguard.sinks import shard_paths

    count = sum(1 for p in inputs.rglob("*") if p.is_file())
    out = tmp_path / "results.jsonl"
    sharded = [*_scan_command(inputs, index_dir, out), "--shard-size", "8"]
    subprocess.run(sharded, check=True, capture_output=True, timeout=600)
    shards = shard_paths(out)
    assert [p.name for p in shards] == [f"results-{i:05d}.jsonl" for i in range(-(-count // 8))]
    assert [len(p.read_text().splitlines()) for p in shards][:-1] == [8] * (len(shards) - 1)
    last = len(shards[-1].read_text().splitlines())
    shards[-1].unlink()  # as if the run had stopped before the last shard
    kept = {p: p.read_bytes() for p in shards[:-1]}
    summarised = [arg for arg in sharded if arg != "--no-summary"]
    done = subprocess.run([*summarised, "--resume"], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert f"VisionGuard scan: {count} images -> {tmp_path / 'results-NNNNN.jsonl'}" in done.stdout  # every shard counted
    assert f"whole job: {count} images ({count - last} from earlier runs)" in done.stdout, done.stdout
    assert f"this run: {last} images in " in done.stdout, done.stdout
    rows = [json.loads(line) for p in shard_paths(out) for line in p.read_text().splitlines()]
    assert len(rows) == len({r["path"] for r in rows}) == count
    assert all(p.read_bytes() == data for p, data in kept.items())  # finished shards untouched
    assert [p.name for p in shard_paths(out)] == [p.name for p in shards]  # the rest in a new last shard

    (tmp_path / "results-00009.jsonl").touch()  # as a kill between opening a shard and writing its first line leaves it
    fewer = [*_scan_command(inputs / "part0", index_dir, out), "--shard-size", "8"]  # a new scan, not resumed
    again = subprocess.run(fewer, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0 and "replacing" in again.stderr
    part0 = sum(1 for p in (inputs / "part0").iterdir())
    assert sum(len(p.read_text().splitlines()) for p in shard_paths(out)) == part0  # no earlier shard stays,
    assert [p.name for p in shard_paths(out)] == [f"results-{i:05d}.jsonl" for i in range(-(-part0 // 8))]  # an empty one neither


def test_an_input_listed_twice_resumes_to_two_lines(listings, index_dir, tmp_path):
    folder, _ = listings
    listing = tmp_path / "twice.txt"
    listing.write_text(f"{folder / 'logo_puma.jpg'}\n{folder / 'logo_puma.jpg'}\n{folder / 'logo_adidas.jpg'}\n")
    out = tmp_path / "r.jsonl"
    command = [*CLI, "scan", str(listing), "--index", str(index_dir), "--out", str(out), "--no-ocr", "--no-summary"]
    subprocess.run(command, check=True, capture_output=True, timeout=600)
    out.write_text(out.read_text().splitlines(keepends=True)[0])  # as if stopped after the first line
    done = subprocess.run([*command, "--resume"], capture_output=True, text=True, timeout=600)
    assert "1 of 3 images already" in done.stderr
    assert [json.loads(line)["path"].rsplit("/", 1)[1] for line in out.read_text().splitlines()] == [
        "logo_puma.jpg", "logo_puma.jpg", "logo_adidas.jpg"
    ]


def test_mistakes_that_would_lose_or_mix_results_are_refused(listings, index_dir, tmp_path):
    """Before anything loads: one sentence, exit 2, and the files as they were."""
    folder, _ = listings
    manifest = tmp_path / "m.jsonl"
    manifest.write_text(json.dumps({"image": str(folder / "logo_puma.jpg"), "listing_id": "A"}) + "\n")
    earlier = tmp_path / "r.jsonl"
    earlier.write_text(json.dumps({"path": "elsewhere/p.jpg", "listing": {}}) + "\n")
    (tmp_path / "s-00000.jsonl").write_text(earlier.read_text())

    def scan(*arguments: str) -> subprocess.CompletedProcess:
        return subprocess.run([*CLI, "scan", *arguments, "--index", str(index_dir), "--no-summary"],
                              capture_output=True, text=True, timeout=600)

    cases = [
        ((str(manifest), "--out", str(manifest)), "is also an input"),
        ((str(manifest), "--out", str(earlier), "--resume"), "1 of the 1 results in .* are for images that are not among"),
        ((str(manifest), "--out", str(earlier), "--resume", "--shard-size", "5"), "holds an unsharded scan"),
        ((str(manifest), "--out", str(tmp_path / "s.jsonl"), "--resume"), "the results are in shards"),
        ((str(folder), str(manifest), "--out", str(earlier), "--resume"),  # a folder scanned alone, then with another input
         "not among these inputs .* a folder's result paths start with its name"),
    ]
    for arguments, message in cases:
        done = scan(*arguments)
        assert done.returncode == 2 and re.search(message, done.stderr) and "Traceback" not in done.stderr, done.stderr
    assert json.loads(manifest.read_text())["listing_id"] == "A" and "elsewhere" in earlier.read_text()


@pytest.mark.parametrize("name, extra, finish", [
    ("results.csv", (), "cannot be resumed"),
    ("results.parquet", (), "cannot be resumed"),
    ("results.jsonl", ("--shard-size", "4"), "add --resume"),
])
def test_ctrl_c_says_where_the_results_are_and_how_to_finish(inputs, index_dir, tmp_path, name, extra, finish):
    """Ctrl-C names the files the results are in (a sharded scan's shards, not OUT) and offers
    --resume only where it works: it refuses .csv and .parquet."""
    out = tmp_path / name
    process = subprocess.Popen(_scan_command(inputs, index_dir, out, *extra), stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and not list(tmp_path.glob("results*")):
        time.sleep(0.01)
    time.sleep(0.5)  # into the scan
    process.send_signal(signal.SIGINT)
    stderr = process.communicate(timeout=120)[1]
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr and finish in stderr, stderr
    if extra:
        assert "results-NNNNN.jsonl" in stderr, stderr
    else:
        assert "--resume to finish" not in stderr and re.search(r"\d+ of \d+ images have their results in .*" + name, stderr)
    if name.endswith(".parquet"):
        import pyarrow.parquet as pq

        assert pq.read_table(out).num_rows >= 0  # closed on the way out: a readable file


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (Linux), a disk that is always full")
@pytest.mark.parametrize("name, extra", [("results.jsonl", ()), ("results.csv", ()), ("results.parquet", ()),
                                         ("results-00000.jsonl", ("--shard-size", "4"))])
def test_a_full_disk_is_one_sentence_not_a_traceback(listings, index_dir, tmp_path, name, extra):
    """No space left while writing: exit 2 with one line that says what was kept and how to go on."""
    written = name + ".partial" if name.endswith(".parquet") else name  # Parquet is renamed into place when closed
    (tmp_path / written).symlink_to("/dev/full")  # every write fails with ENOSPC
    out = tmp_path / ("results.jsonl" if extra else name)
    done = subprocess.run(_scan_command(listings[0], index_dir, out, *extra), capture_output=True, text=True, timeout=600)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert re.search(r"^error: cannot write results to .*No space left on device", done.stderr), done.stderr
    if name.endswith(".parquet"):  # readable only once closed: nothing kept, the unreadable part removed
        assert not os.path.lexists(tmp_path / written)
    else:
        assert "0 of " in done.stderr and ("add --resume" if name.endswith(".jsonl") else "cannot be resumed") in done.stderr


def test_a_sink_that_cannot_write_raises_one_error(tmp_path, monkeypatch):
    """A write or the closing write failing (ENOSPC): one ResultsWriteError, not a chain of OSErrors."""
    import errno

    from visionguard.results import ScanResult
    from visionguard.sinks import JsonlSink, ParquetSink, ResultsWriteError

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with pytest.raises(ResultsWriteError, match="No space left on device") as caught:
        with JsonlSink(tmp_path / "r.jsonl") as sink:
            sink.write(ScanResult(path="a.jpg"))
            monkeypatch.setattr(sink._handle, "flush", full)
            sink.write(ScanResult(path="b.jpg"))  # the close after it fails again: not told twice
    assert sink.count == 1 and caught.value.__suppress_context__
    with pytest.raises(ResultsWriteError, match="No space left on device") as caught:
        with ParquetSink(tmp_path / "r.parquet") as sink:
            sink.write(ScanResult(path="a.jpg"))
            monkeypatch.setattr(sink._writer, "write_table", full)  # rows are written when the file closes
    assert caught.value.__suppress_context__


def test_a_killed_parquet_scan_leaves_the_earlier_results_whole(tmp_path):
    """Parquet is readable only once closed: it is written beside OUT and renamed on closing, so
    a scan killed midway (no close) leaves the earlier OUT as it was, not an unreadable stub."""
    import pyarrow.parquet as pq

    from visionguard.results import ScanResult
    from visionguard.sinks import ParquetSink

    out = tmp_path / "r.parquet"
    with ParquetSink(out) as sink:
        sink.write(ScanResult(path="earlier.jpg"))
    killed = ParquetSink(out).__enter__()  # never closed, as after kill -9
    killed.write(ScanResult(path="new.jpg"))
    killed._flush()
    assert pq.read_table(out).column("path").to_pylist() == ["earlier.jpg"]
    assert (tmp_path / "r.parquet.partial").exists()
    killed.__exit__(None, None, None)
    assert pq.read_table(out).column("path").to_pylist() == ["new.jpg"] and not (tmp_path / "r.parquet.partial").exists()


def test_resume_with_another_index_or_options_is_refused(listings, index_dir, tmp_path):
    """The settings a .jsonl scan ran with are kept beside it (OUT.scan.json): a --resume with
    OCR on where the interrupted scan had it off, or with another index, would mix verdicts."""
    folder, _ = listings
    out = tmp_path / "r.jsonl"
    command = [*CLI, "scan", str(folder), "--index", str(index_dir), "--out", str(out), "--no-summary"]
    subprocess.run([*command, "--no-ocr"], check=True, capture_output=True, timeout=600)
    assert json.loads((tmp_path / "r.jsonl.scan.json").read_text())["ocr"] is False
    count = len(out.read_text().splitlines())
    out.write_text(out.read_text().splitlines(keepends=True)[0])  # as if stopped after the first line
    other_index = tmp_path / "other-index"
    shutil.copytree(index_dir, other_index)
    for extra, changed in [((), "ocr False, now True"), (("--no-ocr", "--small-logos"), "small_logos False, now True"),
                           (("--no-ocr", "--index", str(other_index)), "index ")]:
        done = subprocess.run([*command, "--resume", *extra], capture_output=True, text=True, timeout=600)
        assert done.returncode == 2 and "cannot resume: the results in" in done.stderr and changed in done.stderr, done.stderr
        assert len(out.read_text().splitlines()) == 1
    done = subprocess.run([*command, "--resume", "--no-ocr", "--workers", "1"], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr  # how the work is spread is not a setting
    assert len(out.read_text().splitlines()) == count


def test_resume_is_not_refused_for_the_same_model_spelled_another_way(index_dir, tmp_path):
    """The index fixes the model (a scan refuses any other): the interrupted scan without
    --model and a --resume naming it, or its weights by a relative and then an absolute path,
    are the same settings, not "cannot resume"."""
    from visionguard.cli import _record_settings, _refuse_other_settings, _scan_settings
    from visionguard.models import DEFAULT_MODEL

    out = tmp_path / "r.jsonl"
    options = {"ocr": True, "batch_size": 8}
    spellings = [None, DEFAULT_MODEL, f"models/{DEFAULT_MODEL}.safetensors", str(tmp_path / f"{DEFAULT_MODEL}.safetensors")]
    _record_settings(out, _scan_settings(index_dir, spellings[0], "openvino", options))
    for model in spellings[1:]:
        _refuse_other_settings(out, _scan_settings(index_dir, model, "openvino", options))  # not refused
    with pytest.raises(VisionGuardError, match="runtime 'openvino', now 'onnx'"):
        _refuse_other_settings(out, _scan_settings(index_dir, None, "onnx", options))


def test_a_scan_stopped_before_it_writes_keeps_the_earlier_scans_settings(listings, index_dir, tmp_path):
    """A new scan into OUT that stops before it starts writing (a wrong --model, Ctrl-C while
    the model loads) leaves OUT with the earlier scan's results: its settings record must stay
    theirs, or a --resume with the new settings mixes the two without a word."""
    from typer.testing import CliRunner

    from visionguard.cli import app

    out = tmp_path / "r.jsonl"
    out.write_text('{"path": "earlier.jpg"}\n')
    record = tmp_path / "r.jsonl.scan.json"
    record.write_text(json.dumps({"ocr": False}) + "\n")
    done = CliRunner().invoke(app, ["scan", str(listings[0]), "--index", str(index_dir), "--out", str(out),
                                    "--model", "no-such-model"])
    assert done.exit_code == 2 and "unknown model" in done.output, done.output
    assert out.read_text() == '{"path": "earlier.jpg"}\n' and json.loads(record.read_text()) == {"ocr": False}


def _verdicts(stdout: str) -> str:
    """The summary's line of counts per verdict."""
    return re.search(r"ok \d+ .*high risk \(>=0.5\) \d+", stdout).group(0)


def test_the_summary_after_resume_counts_the_whole_job(listings, index_dir, tmp_path, monkeypatch):
    """After --resume (here into an input folder that grew since the first run) the summary
    counts every result in the file, earlier runs' as well, as a scan of everything at once
    would, and gives this run's own throughput under its own name; a finished job resumed loads
    nothing and scans nothing, and still shows the whole job."""
    from typer.testing import CliRunner

    from visionguard.cli import app
    from visionguard.scanner import Scanner

    folder, specs = listings
    inputs = tmp_path / "in"
    inputs.mkdir()
    names = sorted(specs)
    for name in names[:4]:
        shutil.copy(folder / name, inputs / name)
    out = tmp_path / "r.jsonl"
    command = [*CLI, "scan", str(inputs), "--index", str(index_dir), "--out", str(out), "--no-ocr"]
    subprocess.run(command, check=True, capture_output=True, timeout=600)
    for name in names[4:]:  # the crawl brought more photos
        shutil.copy(folder / name, inputs / name)
    done = subprocess.run([*command, "--resume"], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0 and f"resuming: 4 of {len(names)} images already in" in done.stderr, done.stderr
    reference = subprocess.run([*command[:-3], "--out", str(tmp_path / "all.jsonl"), "--no-ocr"],
                               capture_output=True, text=True, timeout=600)
    assert f"VisionGuard scan: {len(names)} images -> {out}" in done.stdout, done.stdout
    assert f"whole job: {len(names)} images (4 from earlier runs)  {_verdicts(reference.stdout)}" in done.stdout
    assert re.search(rf"^this run: {len(names) - 4} images in [\d.]+ s, [\d.]+ images/s", done.stdout, re.M), done.stdout
    table = done.stdout.split("\n", 1)[1].split("whole job")[0]  # the most serious results of the whole job
    assert table == reference.stdout.split("\n", 1)[1].split("ok ")[0], (done.stdout, reference.stdout)

    def not_needed(*args, **kwargs):
        raise AssertionError("a finished job loads no model")

    monkeypatch.setattr(Scanner, "load", not_needed)
    finished = CliRunner().invoke(app, command[3:] + ["--resume"])
    assert finished.exit_code == 0, finished.output
    assert f"nothing left to scan: all {len(names)} images have their results in {out}" in finished.output
    assert f"whole job: {len(names)} images (all from earlier runs)  {_verdicts(reference.stdout)}" in finished.output
    assert "this run: nothing left to scan" in finished.output
    assert len(out.read_text().splitlines()) == len(names)


def test_resume_without_results_scans_everything_and_keeps_its_settings(listings, index_dir, tmp_path):
    """--resume where the results file is gone (deleted, or never written: a mistyped --out)
    says so and scans everything, with its own settings: no refusal over a settings record
    left from the results that are gone, and a record of this scan for the next --resume."""
    folder, specs = listings
    out = tmp_path / "r.jsonl"
    record = tmp_path / "r.jsonl.scan.json"
    record.write_text(json.dumps({"ocr": True, "small_logos": True}) + "\n")  # the deleted results' settings
    command = [*CLI, "scan", str(folder), "--index", str(index_dir), "--out", str(out), "--no-ocr", "--no-summary"]
    done = subprocess.run([*command, "--resume"], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert f"note: no results in {out} to resume from: scanning all {len(specs)} images" in done.stderr
    assert len(out.read_text().splitlines()) == len(specs)
    assert json.loads(record.read_text())["ocr"] is False and json.loads(record.read_text())["small_logos"] is False
    out.write_text(out.read_text().splitlines(keepends=True)[0])  # stopped after one line: the record now guards it
    refused = subprocess.run([*command[:-2], "--no-summary", "--resume"], capture_output=True, text=True, timeout=600)
    assert refused.returncode == 2 and "ocr False, now True" in refused.stderr, refused.stderr
