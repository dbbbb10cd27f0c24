"""The CLI contract, run as a real subprocess: exit codes, one JSON line per input, no tracebacks."""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from badinputs import make_bad_inputs
from visionguard.synth import photo

CLI = [sys.executable, "-m", "visionguard"]
DEMO_GALLERY = str(Path(__file__).resolve().parents[1] / "indexes" / "demo" / "gallery")


def run(*args, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *map(str, args)], capture_output=True, text=True, timeout=600, **kwargs)


def test_version():
    done = run("--version")
    assert done.returncode == 0 and done.stdout.startswith("visionguard ")


@pytest.mark.parametrize("command", [[], ["index"], ["index", "build"], ["index", "add"], ["index", "remove"], ["index", "info"], ["scan"]])
def test_help_on_every_command(command):
    done = run(*command, "--help")
    assert done.returncode == 0 and "Usage" in done.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["index", "build", "/nonexistent/gallery", "--out", "/tmp/x"], "does not exist"),
        (["scan", "/nonexistent/listings", "--index", "/tmp/x", "--out", "/tmp/r.jsonl"], "does not exist"),
        (["index", "info", "/nonexistent/index"], "does not exist"),
        (["index", "build", DEMO_GALLERY, "--out", "/tmp/x", "--model", "resnet9000"], "unknown model"),
        (["index", "build", DEMO_GALLERY, "--out", "/tmp/x", "--model", "/no/such.safetensors"], "do not exist"),
        (["scan", DEMO_GALLERY, "--index", "/tmp/x", "--out", "/tmp/r.jsonl", "--engine", "ray", "--address", "127.0.0.1:1"],
         "cannot connect to the Ray cluster at '127.0.0.1:1'"),
        (["scan", "-", "--index", "/tmp/x", "--out", "/tmp/r.jsonl"], "write them to a file list (find DIR -name '*.jpg' > list.txt)"),
        (["scan", DEMO_GALLERY, "--index", "/tmp/x", "--out", "-"], "not to standard output"),
    ],
)
def test_user_errors_are_one_line_and_exit_2(args, message):
    done = run(*args)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert message in done.stderr


def test_gallery_with_an_empty_brand_is_exit_2(tmp_path):
    (tmp_path / "g" / "acme").mkdir(parents=True)
    done = run("index", "build", tmp_path / "g", "--out", tmp_path / "i")
    assert done.returncode == 2 and "has no images" in done.stderr and "Traceback" not in done.stderr


def test_scan_of_a_folder_without_images_is_exit_2(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "readme.txt").write_text("no images here")
    done = run("scan", tmp_path / "in", "--index", tmp_path, "--out", tmp_path / "r.jsonl")
    assert done.returncode == 2 and "has no image files" in done.stderr


def test_scan_with_a_folder_that_is_not_an_index(tmp_path, listings):
    folder, _ = listings
    done = run("scan", folder, "--index", tmp_path, "--out", tmp_path / "r.jsonl")
    assert done.returncode == 2 and "not a VisionGuard index" in done.stderr and "Traceback" not in done.stderr


def test_build_then_scan_writes_one_line_per_input(tmp_path, gallery_dir, listings):
    index = tmp_path / "index"
    done = run("index", "build", gallery_dir, "--out", index)
    assert done.returncode == 0, done.stderr
    assert "indexed 19 images of 6 brands" in done.stdout

    inputs = tmp_path / "inputs"
    shutil.copytree(listings[0], inputs / "listings")
    expected_bad = make_bad_inputs(inputs / "nested" / "bad")
    (inputs / "notes.txt").write_text("not scanned: not an image extension")
    (inputs / "UPPER.JPG").write_bytes((listings[0] / "text_nike.jpg").read_bytes())
    out = tmp_path / "results.jsonl"
    done = run("scan", inputs, "--index", index, "--out", out)
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    paths = [line["path"] for line in lines]
    expected = {f"listings/{p.name}" for p in listings[0].glob("*.jpg")}
    expected |= {f"nested/bad/{name}" for name in expected_bad} | {"UPPER.JPG"}
    assert sorted(paths) == sorted(expected) and len(paths) == len(set(paths))
    by_path = {line["path"]: line for line in lines}
    assert by_path["listings/text_adibas.jpg"]["altered"][0]["brand"] == "adidas"
    assert by_path["UPPER.JPG"]["brand"] == "nike"
    assert by_path["nested/bad/caf\\xe9_listing.jpg"]["status"] == "ok"
    assert by_path["nested/bad/bomb.png"]["status"] == "error"
    assert "VisionGuard scan" in done.stdout and "errors" in done.stdout


def test_index_build_warns_about_photos_among_the_logos(tmp_path, gallery_dir):
    gallery = tmp_path / "gallery"
    shutil.copytree(gallery_dir, gallery)
    photo("coffee", (640, 480)).save(gallery / "nike" / "shoe.jpg")
    built = run("index", "build", gallery, "--out", tmp_path / "index")
    assert built.returncode == 0 and "1 logo images look like photos (e.g. nike/shoe.jpg)" in built.stderr
    assert "<brand_id>/products/" in built.stderr
    photo("chelsea", (640, 480)).save(gallery / "nike" / "cat.jpg")
    added = run("index", "add", gallery, "--index", tmp_path / "index")
    assert added.returncode == 0 and "1 logo images look like photos (e.g. nike/cat.jpg)" in added.stderr


def test_index_add_info_and_csv_output(tmp_path, gallery_dir, listings):
    partial = tmp_path / "gallery"
    shutil.copytree(gallery_dir, partial, ignore=shutil.ignore_patterns("samsung"))
    index = tmp_path / "index"
    assert run("index", "build", partial, "--out", index).returncode == 0
    shutil.copytree(gallery_dir / "samsung", partial / "samsung")
    done = run("index", "add", partial, "--index", index)
    count = len(list((gallery_dir / "samsung").iterdir()))
    assert done.returncode == 0 and f"added {count} images" in done.stdout and "6 brands" in done.stdout
    info = run("index", "info", index)
    assert "search: exact" in info.stdout and "samsung" in info.stdout
    assert "copy verification: keypoints and thumbnails" in info.stdout
    assert "gallery logos: re-framed with a 15% margin" in info.stdout
    assert "its logos read: SAMSUNG" in info.stdout  # read by OCR as they were added
    missing = run("index", "add", partial, "--index", tmp_path / "nowhere")
    assert missing.returncode == 2 and "does not exist" in missing.stderr and "Traceback" not in missing.stderr

    out = tmp_path / "r.csv"
    done = run("scan", listings[0], "--index", index, "--out", out, "--no-ocr", "--no-summary")
    assert done.returncode == 0, done.stderr
    assert out.read_text().splitlines()[0].startswith("path,status,listing,error,brand")
    refused = run("scan", listings[0], "--index", index, "--out", out, "--resume")
    assert refused.returncode == 2 and "--resume needs a .jsonl results file" in refused.stderr

    nothing = run("index", "remove", index)
    assert nothing.returncode == 2 and "name what to remove" in nothing.stderr
    unknown = run("index", "remove", index, "--brand", "Samsung")
    assert unknown.returncode == 2 and "has no brand 'Samsung'" in unknown.stderr and "Traceback" not in unknown.stderr
    removed = run("index", "remove", index, "--brand", "samsung")
    assert removed.returncode == 0 and f"removed {count} images" in removed.stdout and "5 brands" in removed.stdout
    again = run("index", "add", partial, "--index", index)  # the gallery still holds them: they stay out
    assert again.returncode == 0 and "added 0 images" in again.stdout and "5 brands" in again.stdout
    assert f"left out {count} images 'index remove' took out (e.g. samsung/" in again.stderr


def test_unknown_ocr_detector_is_one_sentence(index_dir, listings, tmp_path):
    done = run("scan", listings[0], "--index", index_dir, "--out", tmp_path / "r.jsonl", "--ocr-detector", "tesseract")
    assert done.returncode == 2 and "unknown OCR detector 'tesseract'" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "r.jsonl").exists() or not (tmp_path / "r.jsonl").read_text()


def test_coarse_text_detection_option_reaches_the_detector(index_dir, listings, tmp_path):
    """--ocr-coarse-side is passed down to the PP-OCR detector: a size it cannot use is one sentence."""
    done = run("scan", listings[0], "--index", index_dir, "--out", tmp_path / "r.jsonl", "--ocr-coarse-side", "2000")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "coarse text-detection size must be between 32 and 959 pixels, not 2000" in done.stderr
    done = run("scan", listings[0], "--index", index_dir, "--out", tmp_path / "r.jsonl", "--ocr-detector", "craft", "--ocr-coarse-side", "480")
    assert done.returncode == 2 and "needs a ppocr detector, not craft" in done.stderr


def test_text_detection_size_option_reaches_the_detector(index_dir, listings, tmp_path):
    """--ocr-side is passed down to the PP-OCR detector: a size it cannot use is one sentence."""
    done = run("scan", listings[0], "--index", index_dir, "--out", tmp_path / "r.jsonl", "--ocr-side", "16")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "text-detection size must be a whole number of at least 32 pixels, not 16" in done.stderr


def test_device_option_is_checked_before_loading(index_dir, listings, tmp_path):
    """--device cuda on a machine without a usable GPU stack: one sentence that says what is missing."""
    import torch

    out = tmp_path / "r.jsonl"
    done = run("scan", listings[0], "--index", index_dir, "--out", out, "--device", "tpu")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "unknown device 'tpu'; choose one of: cpu, cuda" in done.stderr
    done = run("scan", listings[0], "--index", index_dir, "--out", out, "--device", "cuda", "--engine", "ray")
    assert done.returncode == 2 and "--device cuda runs with the local engine only" in done.stderr
    if not torch.cuda.is_available():
        done = run("scan", listings[0], "--index", index_dir, "--out", out, "--device", "cuda")
        assert done.returncode == 2 and "Traceback" not in done.stderr
        assert "device 'cuda' needs a CUDA GPU and a CUDA build of torch" in done.stderr


def test_reference_precision_finds_what_the_default_finds(index_dir, listings, listing_results, tmp_path):
    """The default (bfloat16 on OpenVINO where the CPU has it) against the float32 reference
    path (`--runtime onnx --precision f32`) on the generated listings: the same verdicts."""
    folder, _ = listings
    out = tmp_path / "r.jsonl"
    done = run("scan", folder, "--index", index_dir, "--out", out, "--runtime", "onnx", "--precision", "f32", "--no-summary")
    assert done.returncode == 0, done.stderr
    reference = {r["path"]: r for r in map(json.loads, out.read_text().splitlines())}
    assert set(reference) == set(listing_results)
    for path, fast in listing_results.items():
        assert (reference[path]["status"], reference[path]["brand"], reference[path]["duplicate_of"]) == (fast.status, fast.brand, fast.duplicate_of), path
        assert sorted(a["brand"] for a in reference[path]["altered"]) == sorted(a.brand for a in fast.altered), path
        assert sorted(m["brand"] for m in reference[path]["mentions"]) == sorted(m.brand for m in fast.mentions), path
        if fast.brand:
            assert abs(reference[path]["brand_score"] - fast.brand_score) < 0.02, path
    done = run("scan", folder, "--index", index_dir, "--out", tmp_path / "s.jsonl", "--precision", "fp8")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "unknown precision 'fp8'; choose one of: auto, f32, bf16" in done.stderr


def test_text_cells_scan_reads_the_listings_like_the_full_pass(index_dir, listings, listing_results, tmp_path):
    """--text-cells on the generated listings: the same brands mentioned and flagged as the default scan."""
    folder, _ = listings
    out = tmp_path / "r.jsonl"
    done = run("scan", folder, "--index", index_dir, "--out", out, "--text-cells", "--no-summary")
    assert done.returncode == 0, done.stderr
    gated = {r["path"]: r for r in map(json.loads, out.read_text().splitlines())}
    assert set(gated) == set(listing_results)
    for path, full in listing_results.items():
        assert gated[path]["status"] == full.status
        assert sorted(a["brand"] for a in gated[path]["altered"]) == sorted(a.brand for a in full.altered), path
        assert sorted(m["brand"] for m in gated[path]["mentions"]) == sorted(m.brand for m in full.mentions), path
    done = run("scan", folder, "--index", index_dir, "--out", tmp_path / "s.jsonl", "--text-cells", "--ocr-coarse-side", "480")
    assert done.returncode == 2 and "Traceback" not in done.stderr and "--text-cells needs a ppocr detector in one pass" in done.stderr


def test_a_results_name_it_cannot_write_is_refused_without_announcing_a_replacement(tmp_path, listings):
    """`--out results.json` (a common slip for .jsonl) over an existing file: refused, and not
    announced as replacing it first."""
    earlier = tmp_path / "results.json"
    earlier.write_text('{"kept": true}\n')
    done = run("scan", listings[0], "--index", tmp_path, "--out", earlier)
    assert done.returncode == 2 and "must end in .jsonl, .csv, .parquet" in done.stderr
    assert "replacing" not in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert earlier.read_text() == '{"kept": true}\n'


@pytest.mark.parametrize("name, hint", [("r.jsonl", True), ("r.csv", False), ("r.parquet", False)])
def test_replacing_an_earlier_scan_offers_resume_only_where_it_works(tmp_path, listings, name, hint):
    (tmp_path / name).write_text("an earlier scan\n")
    done = run("scan", listings[0], "--index", tmp_path, "--out", tmp_path / name)  # stops at the index, after the notice
    assert f"replacing the results of an earlier scan in '{tmp_path / name}'" in done.stderr
    assert ("--resume would continue it" in done.stderr) == hint, done.stderr


def test_replacing_a_finished_scan_does_not_offer_resume(tmp_path, listings, listing_results):
    """--resume continues an interrupted scan; over a finished one (a result for every input)
    it would scan nothing, so the notice does not offer it there."""
    from visionguard.sinks import JsonlSink

    out = tmp_path / "r.jsonl"
    with JsonlSink(out) as sink:  # the listings' results, as a finished scan of the folder wrote them
        for result in listing_results.values():
            sink.write(result)
    done = run("scan", listings[0], "--index", tmp_path, "--out", out)  # stops at the index, after the notice
    assert f"replacing the results of an earlier scan in '{out}'" in done.stderr
    assert "--resume" not in done.stderr, done.stderr
    out.write_text("".join(out.read_text().splitlines(keepends=True)[:-1]))  # as if stopped one image short
    done = run("scan", listings[0], "--index", tmp_path, "--out", out)
    assert f"replacing the results of an earlier scan in '{out}' (--resume would continue it)" in done.stderr


def test_csv_cells_longer_than_a_spreadsheet_cell_are_cut_with_a_mark(tmp_path, listings, index_dir):
    """Excel holds 32,767 characters a cell (UTF-16 units) and cuts or spills a longer CSV cell
    without a word: such a cell (here a manifest's long title, carried into `listing`) is cut
    to fit, ending in a mark that says so, and the scan says how many were; JSONL keeps it whole."""
    import csv

    from visionguard.results import ScanResult
    from visionguard.sinks import CSV_CELL_LIMIT, CsvSink, JsonlSink

    folder, _ = listings
    title = "Genuine? 😀 " + "word " * 8_000  # 40,011 characters; the emoji is 2 UTF-16 units
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in [
        {"image": str(folder / "logo_puma.jpg"), "listing_id": "long", "title": title},
        {"image": str(folder / "logo_adidas.jpg"), "listing_id": "short", "title": "Trainers"},
    ]), encoding="utf-8")
    out = tmp_path / "r.csv"
    done = run("scan", manifest, "--index", index_dir, "--out", out, "--no-ocr", "--no-summary")
    assert done.returncode == 0, done.stderr
    assert "note: 1 CSV cells were longer than a spreadsheet cell holds (32,767 characters)" in done.stderr, done.stderr
    with open(out, newline="", encoding="utf-8") as handle:
        rows = {Path(row["path"]).name: row for row in csv.DictReader(handle)}
    long_cell = rows["logo_puma.jpg"]["listing"]
    assert len(long_cell.encode("utf-16-le")) // 2 == CSV_CELL_LIMIT
    assert long_cell.startswith('{"listing_id": "long", "title": "Genuine? 😀 word word')
    assert long_cell.endswith(f" ...[cut by VisionGuard: {len(json.dumps({'listing_id': 'long', 'title': title}, ensure_ascii=False)):,} "
                              "characters, more than a spreadsheet cell holds; .jsonl and .parquet results keep them all]")
    assert json.loads(rows["logo_adidas.jpg"]["listing"]) == {"listing_id": "short", "title": "Trainers"}  # the rest untouched

    result = ScanResult(path="=a.jpg", listing={"title": "😀" * 20_000}, reasons=["x" * 40_000])
    with CsvSink(tmp_path / "s.csv") as sink, JsonlSink(tmp_path / "s.jsonl") as whole:
        sink.write(result)
        whole.write(result)
    assert sink.cut_cells == 2 and whole.cut_cells == 0
    with open(tmp_path / "s.csv", newline="", encoding="utf-8") as handle:  # no emoji split in two: valid UTF-8
        row = next(csv.DictReader(handle))
    assert row["path"] == "'=a.jpg"  # the formula guard stays
    for column in ("listing", "reasons"):
        assert len(row[column].encode("utf-16-le")) // 2 <= CSV_CELL_LIMIT and "[cut by VisionGuard" in row[column]
    assert json.loads((tmp_path / "s.jsonl").read_text(encoding="utf-8"))["listing"]["title"] == "😀" * 20_000


def test_the_summary_shows_paths_and_words_that_look_like_markup_as_they_are(capsys):
    """The summary table is printed with rich: a file named 'shop[/].jpg' or a word read in a
    photo such as '[red]' is shown as it is (it was read as markup: the first failed with a
    traceback after the scan, the second vanished)."""
    from visionguard.cli import _print_summary, _Tally

    job = _Tally()
    job.add({"path": "shop/[/]odd.jpg", "status": "error", "error": "corrupt or truncated image"})
    job.add({"path": "shop/[red]x[/red].jpg", "status": "ok", "risk": 0.9, "reasons": ["text '[b]ADIBAS' imitates adidas"]})
    _print_summary(job, 2, 0, 1.0, "[out].jsonl")
    shown = capsys.readouterr().out
    for text in ("VisionGuard scan: 2 images -> [out].jsonl", "shop/[/]odd.jpg", "shop/[red]x[/red].jpg", "'[b]ADIBAS'"):
        assert text in shown, shown


def test_a_csv_manifest_s_claimed_brand_is_compared_with_the_photo_s_brand(tmp_path, listings, index_dir):
    """A `claimed_brand` column: the puma logo sold as "Generic" is counted in the summary and
    its line says why; sold as Puma it is not; a folder scan (no claims) shows no such count."""
    import csv

    folder, _ = listings
    manifest = tmp_path / "m.csv"
    with open(manifest, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["image", "listing_id", "claimed_brand"])
        writer.writerow([folder / "logo_puma.jpg", "L1", "Generic"])
        writer.writerow([folder / "logo_puma.jpg", "L2", "Puma"])
    out = tmp_path / "r.jsonl"
    done = run("scan", manifest, "--index", index_dir, "--out", out, "--no-ocr")
    assert done.returncode == 0, done.stderr
    assert "other brand than claimed 1" in done.stdout, done.stdout
    rows = {row["listing"]["listing_id"]: row for row in map(json.loads, out.read_text().splitlines())}
    assert rows["L1"]["claimed_brands"] == ["Generic"] and rows["L2"]["claimed_brands"] == ["puma"]
    assert "listing claims Generic, but its photo shows Puma (its logo)" in rows["L1"]["reasons"]
    assert rows["L1"]["risk"] > rows["L2"]["risk"]
    plain = run("scan", folder / "logo_puma.jpg", "--index", index_dir, "--out", tmp_path / "p.jsonl", "--no-ocr")
    assert plain.returncode == 0 and "other brand than claimed" not in plain.stdout, plain.stdout


def test_half_an_emoji_in_a_jsonl_manifest_is_written_escaped_not_a_crash(tmp_path, listings, index_dir):
    """JSON may hold a lone surrogate ("\\ud83d": an emoji cut in half where JavaScript truncated a
    title); Python reads it, but no UTF-8 file can hold it: the sink crashed the whole scan with a
    traceback at that line. Values, column names and the image name are written escaped."""
    folder, _ = listings
    shutil.copy(folder / "logo_puma.jpg", tmp_path / "a.jpg")
    manifest = tmp_path / "m.jsonl"
    manifest.write_text(
        '{"image": "a.jpg", "listing_id": "L1", "title": "Sneakers \\ud83d", "note\\udce9": ["x\\udfff"]}\n'
        '{"image": "a.jpg", "listing_id": "L2", "title": "fine"}\n', encoding="utf-8")
    out = tmp_path / "r.jsonl"
    done = run("scan", manifest, "--index", index_dir, "--out", out, "--no-ocr")
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    first, second = map(json.loads, out.read_text(encoding="utf-8").splitlines())
    assert first["status"] == "ok" and first["listing"] == {"listing_id": "L1", "title": "Sneakers \\ud83d", "note\\udce9": ["x\\udfff"]}
    assert second["listing"]["listing_id"] == "L2"


def test_the_demo_manifest_s_titles_and_claimed_brands(tmp_path, index_dir):
    """indexes/demo/listings.csv (README, "A manifest: titles and claimed brands"): the demo
    photos as listings with titles and claimed brands, each finding what the README shows."""
    manifest = Path(DEMO_GALLERY).parent / "listings.csv"
    out = tmp_path / "r.jsonl"
    done = run("scan", manifest, "--index", index_dir, "--out", out)
    assert done.returncode == 0, done.stderr
    rows = {row["listing"]["listing_id"]: row for row in map(json.loads, out.read_text().splitlines())}
    assert len(rows) == 9
    assert [r for r in rows["L1002"]["reasons"] if "claims" in r] == ["listing claims Generic, but its photo shows Puma (its logo)"]
    assert sorted(a["source"] for a in rows["L1003"]["altered"]) == ["photo", "title"]
    assert [(a["text"], a["brand"], a["source"]) for a in rows["L1008"]["altered"]] == [("N1KE", "nike", "title")]
    broken = rows["L1009"]
    assert broken["status"] == "error" and [a["brand"] for a in broken["altered"]] == ["fujifilm"] and broken["risk"] > 0.5
    for consistent in ("L1001", "L1004", "L1005", "L1007"):  # the photo shows the brand the listing claims
        assert rows[consistent]["brand"] in rows[consistent]["claimed_brands"], rows[consistent]
    assert "other brand than claimed 1" in done.stdout
    table = re.sub(r"[\s│]+", " ", done.stdout)  # the 80-column table of a pipe, its wrapped cells joined
    assert "corrupt or truncated image: Truncated File Read; title text 'FUJIFLLM' imitates fujifilm" in table, done.stdout
