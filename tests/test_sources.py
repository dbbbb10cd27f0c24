"""Inputs beyond a folder: file lists, manifests whose columns travel into the results, tar shards."""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
import tarfile

import pytest

from visionguard import Scanner
from visionguard import sources
from visionguard.errors import VisionGuardError
from visionguard.sources import count_inputs, iter_inputs


@pytest.fixture(scope="module")
def quick_scanner(index_dir):
    return Scanner.load(index_dir, ocr=False)


def test_file_list_resolves_relative_paths_and_skips_comments(listings, tmp_path):
    folder, specs = listings
    names = sorted(specs)[:3]
    listing = tmp_path / "batch.txt"
    listing.write_text(f"# today's crawl\n\n{folder / names[0]}\n{folder.name}/{names[1]}\n  {folder.name}/{names[2]}  \n")
    (tmp_path / folder.name).symlink_to(folder)
    items = list(iter_inputs([listing]))
    assert [item.path for item in items] == [str(folder / names[0]), f"{folder.name}/{names[1]}", f"{folder.name}/{names[2]}"]
    assert all(item.listing == {} for item in items) and count_inputs([listing]) == 3

    (tmp_path / " spaced name.jpg ").write_bytes((folder / names[0]).read_bytes())  # a name that has them
    listing.write_text(" spaced name.jpg \n")
    assert [item.path for item in iter_inputs([listing])] == [" spaced name.jpg "]


def test_manifest_columns_are_carried_into_results(listings, tmp_path, quick_scanner):
    folder, _ = listings
    manifest = tmp_path / "listings.csv"
    with open(manifest, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["listing_id", "image_path", "seller_id", "title", "claimed_brand"])
        writer.writerow(["L1", str(folder / "copy_of_nike_product.jpg"), "S9", "Nike Air, brand new", "nike"])
        writer.writerow(["L2", str(folder / "corrupt.jpg"), "S9", "", ""])
    results = list(quick_scanner.scan_inputs([manifest]))
    assert [r.listing for r in results] == [
        {"listing_id": "L1", "seller_id": "S9", "title": "Nike Air, brand new", "claimed_brand": "nike"},
        {"listing_id": "L2", "seller_id": "S9", "title": "", "claimed_brand": ""},
    ]
    assert results[0].duplicate_of == "nike/products/product_1.jpg" and results[0].to_dict()["listing"]["listing_id"] == "L1"
    assert results[1].status == "error" and results[1].listing["listing_id"] == "L2"  # bad images keep their row

    import pyarrow as pa
    import pyarrow.parquet as pq

    parquet = tmp_path / "listings.parquet"
    pq.write_table(pa.table({"listing_id": ["P1"], "image": [str(folder / "logo_puma.jpg")], "seller_id": [4]}), parquet)
    (item,) = iter_inputs([parquet])
    assert item.listing == {"listing_id": "P1", "seller_id": 4} and item.path.endswith("logo_puma.jpg")

    jsonl = tmp_path / "listings.jsonl"
    jsonl.write_text(json.dumps({"image": str(folder / "logo_puma.jpg"), "listing_id": 7, "price": 19.5}) + "\n")
    (item,) = iter_inputs([jsonl])
    assert item.listing == {"listing_id": 7, "price": 19.5}  # JSON keeps its types


def test_manifests_as_spreadsheets_and_warehouses_write_them(listings, tmp_path, quick_scanner):
    """Excel's BOM, a ragged row, and Parquet's timestamps, decimals, binary and NaN: the row is
    read and its cells reach every result format as JSON (a datetime crashed the sink before)."""
    import datetime
    import decimal

    import pyarrow as pa
    import pyarrow.parquet as pq

    folder, _ = listings
    image = str(folder / "logo_puma.jpg")
    sheet = tmp_path / "excel.csv"
    sheet.write_bytes(b"\xef\xbb\xbfimage,listing_id\n" + image.encode() + b",L1,oops,more\n")
    (item,) = iter_inputs([sheet])
    assert item.listing == {"listing_id": "L1", "extra_values": ["oops", "more"]}
    table = tmp_path / "crawl.parquet"
    pq.write_table(pa.table({
        "image": [image], "seen": [datetime.datetime(2026, 11, 24, 10, 30)], "price": [decimal.Decimal("19.90")],
        "thumb": [b"\x00\x01"], "rating": [float("nan")],
    }), table)
    (result,) = quick_scanner.scan_inputs(table)
    assert result.listing == {"seen": "2026-11-24T10:30:00", "price": "19.90", "thumb": "AAE=", "rating": None}
    assert json.loads(json.dumps(result.to_dict(), allow_nan=False))["listing"]["price"] == "19.90"


def test_manifests_as_exported_by_european_excel_and_marketplaces(listings, tmp_path, quick_scanner):
    """A ';' or tab separated CSV (Excel where the decimal mark is a comma), columns named "Image
    Path", "Title" and "Brand", and images named by URL: read as meant, each URL line an error
    that says why (it was "no image column", then "No such file or directory")."""
    folder, _ = listings
    image = str(folder / "logo_puma.jpg")
    semicolons = tmp_path / "excel.csv"
    semicolons.write_text(f"Image Path;listing_id;Title;Brand\n{image};L1;ADIBAS shoes;Generic\n", encoding="utf-8")
    tabs = tmp_path / "export.csv"
    tabs.write_text(f"listing_id\tIMAGE-URL\nL2\thttps://cdn.example.com/a.jpg\nL3\t{image}\n", encoding="utf-8")
    listed = tmp_path / "list.txt"
    listed.write_text(f"s3://bucket/b.jpg\n{image}\n", encoding="utf-8")
    first, url, local, listed_url, listed_local = quick_scanner.scan_inputs([semicolons, tabs, listed])
    assert first.status == "ok" and first.listing == {"listing_id": "L1", "Title": "ADIBAS shoes", "Brand": "Generic"}
    assert [a.brand for a in first.altered] == ["adidas"] and first.claimed_brands == ["Generic"]  # "Title", "Brand" read
    assert (url.listing, local.listing) == ({"listing_id": "L2"}, {"listing_id": "L3"}) and local.status == "ok"
    for line in (url, listed_url):
        assert line.status == "error" and line.error.startswith("a URL, not a file: VisionGuard reads local files and downloads nothing")
    assert listed_local.status == "ok"


def test_api_results_are_json_whatever_the_caller_names_and_lists(listings, quick_scanner):
    """A service names uploads with a Path and builds listings from a pandas row (numpy integers,
    NaN, timestamps): `to_dict()` is still one strict JSON object (it raised TypeError, or wrote NaN)."""
    from pathlib import Path

    import numpy as np

    from visionguard.sources import ScanInput

    folder, _ = listings
    data = (folder / "logo_puma.jpg").read_bytes()
    row = {"listing_id": np.int64(7), "price": np.float32(19.5), "rating": float("nan"), "sold": np.bool_(True),
           "seen": np.datetime64("2026-11-24T10:30"), "gone": np.datetime64("NaT"), "sizes": np.array([40, 41])}
    named = quick_scanner.scan_image(data, path=Path("uploads") / "L7.jpg")
    listed, failed = quick_scanner.scan([ScanInput(data, "L7.jpg", row), ScanInput(b"", "L8.jpg", row, error="gone")])
    assert named.path == "uploads/L7.jpg" and named.to_dict()["path"] == "uploads/L7.jpg"
    for result in (listed, failed):
        data_row = json.loads(json.dumps(result.to_dict(), allow_nan=False))
        assert data_row["listing"] == {"listing_id": 7, "price": 19.5, "rating": None, "sold": True,
                                       "seen": "2026-11-24T10:30", "gone": None, "sizes": [40, 41]}
    assert listed.brand == "puma" and failed.error == "gone"


def test_pandas_missing_values_are_null_in_listings():
    pd = pytest.importorskip("pandas")
    row = {"seen": pd.NaT, "n": pd.NA, "t": pd.Timestamp("2026-11-24")}  # NaT was written as the text "NaT"
    assert sources.json_value(row) == {"seen": None, "n": None, "t": "2026-11-24T00:00:00"}


def test_durations_in_listings_are_seconds():
    """Parquet's duration columns arrive as timedelta: str() wrote "1 day, 0:00:05"."""
    import datetime

    import numpy as np

    row = {"age": datetime.timedelta(days=1, seconds=5), "wait": np.timedelta64(90, "m"), "none": np.timedelta64("NaT")}
    assert sources.json_value(row) == {"age": 86405.0, "wait": 5400.0, "none": None}


def test_tar_shards_are_read_as_streams(listings, tmp_path, quick_scanner):
    folder, specs = listings
    shard = tmp_path / "shard-00001.tar"
    with tarfile.open(shard, "w") as archive:
        for name in sorted(specs)[:4]:
            archive.add(folder / name, arcname=f"imgs/{name}")
        notes = tmp_path / "README"
        notes.write_text("not an image")
        archive.add(notes, arcname="README")
    items = list(iter_inputs([shard]))
    assert [item.path for item in items] == [f"shard-00001.tar/imgs/{name}" for name in sorted(specs)[:4]]
    assert all(isinstance(item.source, bytes) and item.source for item in items) and count_inputs([shard]) == 4
    statuses = {r.path.rsplit("/", 1)[1]: r.status for r in quick_scanner.scan(items)}
    assert statuses == {name: specs[name].status for name in sorted(specs)[:4]}


def _damage(shard, kind: str) -> None:
    """Damage the second member of a three-member shard as crawls and copies do."""
    data = shard.read_bytes()
    with tarfile.open(shard) as archive:
        second = archive.getmembers()[1]
    if kind == "bad header":  # overwritten mid-copy
        data = data[: second.offset] + b"\xff" * 512 + data[second.offset + 512 :]
    elif kind == "cut in data":
        data = data[: second.offset_data + 100]
    elif kind == "cut in header":
        data = data[: second.offset + 200]
    shard.write_bytes(data)


@pytest.mark.parametrize(
    "kind, last_path, message",
    [
        ("bad header", "s.tar", "unreadable header after member 'a.jpg' .* could not be read"),
        ("cut in data", "s.tar/b.jpg", "tar member is cut short"),
        ("cut in header", "s.tar", "unreadable header after member 'a.jpg'"),
    ],
)
def test_damaged_tar_shards_keep_their_members_and_say_where(listings, tmp_path, quick_scanner, kind, last_path, message):
    """tarfile ends a stream quietly at a header it cannot parse, and a cut shard raised before:
    the members before the damage are scanned, the damage is one error line, the scan goes on."""
    folder, specs = listings
    shard = tmp_path / "s.tar"
    with tarfile.open(shard, "w") as archive:
        for arcname, name in zip("abc", ["logo_puma.jpg", "text_adibas.jpg", "logo_adidas.jpg"]):
            archive.add(folder / name, arcname=f"{arcname}.jpg")
    _damage(shard, kind)
    items = list(iter_inputs([shard, folder / "logo_puma.jpg"]))
    assert [item.path for item in items] == ["s.tar/a.jpg", last_path, "logo_puma.jpg"]
    assert count_inputs([shard, folder / "logo_puma.jpg"]) == 3  # the progress bar's total
    results = list(quick_scanner.scan(items))
    assert [r.status for r in results] == ["ok", "error", "ok"]
    assert re.search(message, results[1].error) and results[0].brand == results[2].brand == "puma"


@pytest.mark.parametrize("content", [b"", b"this is not a tar file" * 40])
def test_an_unreadable_shard_is_one_error_line(tmp_path, content):
    shard = tmp_path / "shard.tar"
    shard.write_bytes(content)
    (item,) = iter_inputs([shard])
    assert item.path == "shard.tar" and item.error.startswith("cannot read tar shard: ")


def test_links_inside_a_shard_get_a_line_of_their_own(listings, tmp_path):
    folder, _ = listings
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.jpg").write_bytes((folder / "logo_puma.jpg").read_bytes())
    (tmp_path / "src" / "b.jpg").symlink_to("a.jpg")
    shard = tmp_path / "s.tar"
    with tarfile.open(shard, "w") as archive:
        for name in ("a.jpg", "b.jpg"):
            archive.add(tmp_path / "src" / name, arcname=name)
    a, b = iter_inputs([shard])
    assert a.error is None and b.path == "s.tar/b.jpg" and "a link to 'a.jpg'" in b.error
    assert count_inputs([shard]) == 2


def test_oversized_tar_members_are_refused_unread(listings, tmp_path, monkeypatch):
    folder, _ = listings
    shard = tmp_path / "s.tar"
    with tarfile.open(shard, "w") as archive:
        archive.add(folder / "logo_puma.jpg", arcname="big.jpg")
        archive.add(folder / "corrupt.jpg", arcname="small.jpg")
    size = (folder / "logo_puma.jpg").stat().st_size
    monkeypatch.setattr(sources, "MAX_MEMBER_BYTES", size - 1)
    big, small = iter_inputs([shard])
    assert big.source == b"" and big.error == f"tar member is {size} bytes, above the limit of {size - 1}"
    assert small.error is None and small.source == (folder / "corrupt.jpg").read_bytes()


def test_inputs_of_the_same_name_keep_distinct_paths(listings, tmp_path, monkeypatch):
    """Two crawls' `x/` folders or `shard-0001.tar`s must not give two results one path (and
    --resume one line for both): where base names clash, the path as given names the input."""
    folder, specs = listings
    items = list(iter_inputs([folder, folder]))  # one folder twice: its name, twice
    assert len(items) == 2 * len(specs) and items[0].path.startswith(f"{folder.name}/")
    for crawl in ("a", "b"):
        (tmp_path / crawl / "x").mkdir(parents=True)
        (tmp_path / crawl / "x" / "p.jpg").write_bytes((folder / "logo_puma.jpg").read_bytes())
        with tarfile.open(tmp_path / crawl / "s.tar", "w") as archive:
            archive.add(folder / "logo_puma.jpg", arcname="p.jpg")
    monkeypatch.chdir(tmp_path)
    inputs = ["a/x", "b/x", "a/s.tar", "b/s.tar", "a/x/p.jpg", "b/x/p.jpg"]
    assert [item.path for item in iter_inputs(inputs)] == [
        "a/x/p.jpg", "b/x/p.jpg", "a/s.tar/p.jpg", "b/s.tar/p.jpg", "a/x/p.jpg", "b/x/p.jpg"
    ]
    assert [item.path for item in iter_inputs(["a/x", "b/s.tar"])] == ["x/p.jpg", "s.tar/p.jpg"]  # no clash: names
    monkeypatch.chdir(tmp_path / "a")
    assert [item.path for item in iter_inputs([".", "s.tar"])] == ["a/x/p.jpg", "s.tar/p.jpg"]  # '.' is named too
    assert [item.path for item in iter_inputs("s.tar")] == ["s.tar/p.jpg"]  # one input given bare


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("m.csv", "listing_id,url\n1,http://x/1.jpg\n", "has no image column .* its columns are: listing_id, url"),
        ("m.jsonl", '{"image": "a.jpg"}\n[1, 2]\n', "line 2 of manifest .* is not a JSON object"),
        ("m.jsonl", '{"image": "a.jpg"}\n{"image": ""}\n', "row 2 of manifest .* has no 'image'"),
        ("notes.pdf", "%PDF", "is not a folder, a file list"),
        ("m.parquet", "not parquet", "cannot read Parquet manifest"),
        ("m.jsonl", '{"image": 5}\n', "row 1 of manifest .*: its 'image' is 5, not a path"),
        ("m.csv", b"image,title\ncaf\xe9.jpg,x\n", "manifest .* is not UTF-8 text"),
        ("l.txt", b"a.jpg\ncaf\xe9.jpg\n", "file list .* is not UTF-8 text"),
    ],
)
def test_input_mistakes_are_one_sentence(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content) if isinstance(content, bytes) else path.write_text(content)
    with pytest.raises(VisionGuardError, match=message):
        list(iter_inputs([path]))


def test_cli_scans_a_manifest_and_a_shard_together(listings, index_dir, tmp_path):
    folder, specs = listings
    manifest = tmp_path / "m.jsonl"
    manifest.write_text(json.dumps({"image": str(folder / "text_adibas.jpg"), "listing_id": "A1"}) + "\n")
    shard = tmp_path / "s.tar"
    with tarfile.open(shard, "w") as archive:
        archive.add(folder / "logo_puma.jpg", arcname="logo_puma.jpg")
    out = tmp_path / "r.jsonl"
    done = subprocess.run(
        [sys.executable, "-m", "visionguard", "scan", str(manifest), str(shard), "--index", str(index_dir),
         "--out", str(out), "--no-summary"],
        capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["path"], r["listing"]) for r in rows] == [(str(folder / "text_adibas.jpg"), {"listing_id": "A1"}), ("s.tar/logo_puma.jpg", {})]
    assert rows[0]["altered"][0]["brand"] == "adidas"



def test_a_long_csv_cell_is_read_and_an_open_quote_is_one_sentence(tmp_path):
    """Python's csv module stops at 128 KiB a cell: a pasted description must still read, and a
    quote left open (the rest of the file in one cell) must be one sentence, not a traceback."""
    description = "genuine leather " * 20_000  # 320,000 characters
    manifest = tmp_path / "long.csv"
    with manifest.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([["image", "description"], ["a.jpg", description], ["b.jpg", "short"]])
    items = list(iter_inputs([manifest]))
    assert [item.path for item in items] == ["a.jpg", "b.jpg"] and items[0].listing["description"] == description
    broken = tmp_path / "open_quote.csv"
    broken.write_text('image,title\na.jpg,"unclosed\n' + "b.jpg,x\n" * (sources.MANIFEST_CELL_LIMIT // 8 + 1))
    with pytest.raises(VisionGuardError, match=r"row 2 of manifest .* is not readable CSV: .* \(a quote left open"):
        list(iter_inputs([broken]))


def test_results_sinks_and_text_matcher_do_not_import_numpy():
    # json_value handles numpy values without importing numpy: a resumed finished scan and the
    # text matcher load no more than they did (numpy: ~0.1 s)
    code = ("import sys, visionguard.results, visionguard.sinks, visionguard.sources, visionguard.text; "
            "print('numpy' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def test_an_exactly_named_image_column_wins_over_a_loosely_named_one(tmp_path):
    """Before names were compared loosely, only an exact "image_path" was read: a manifest that
    added one beside an export's "Image" (URLs) must keep reading its local paths, not turn
    every line into a URL error (and its earlier results into ones --resume cannot match)."""
    manifest = tmp_path / "export.csv"
    manifest.write_text("Image,image_path,listing_id\nhttps://cdn.example.com/a.jpg,photos/a.jpg,L1\n", encoding="utf-8")
    (item,) = sources.iter_inputs([manifest])
    assert (item.path, item.error) == ("photos/a.jpg", None)
    assert item.listing == {"Image": "https://cdn.example.com/a.jpg", "listing_id": "L1"}
    loose = tmp_path / "loose.csv"  # without one of the names earlier versions read, the loose one is read, in order
    loose.write_text("image_url,Image Path,listing_id\nhttps://cdn.example.com/b.jpg,photos/b.jpg,L2\n", encoding="utf-8")
    assert [(item.path, item.error) for item in sources.iter_inputs([loose])] == [("photos/b.jpg", None)]


def test_a_loosely_named_claimed_brand_column_comes_before_a_brand_column():
    """claimed_brand, "or brand" (README): a "Claimed Brand" column is the claim even where the
    manifest also has an exact "brand" (it was read first, being named exactly)."""
    listing = {"brand": "Nike", "Claimed Brand": "Generic", "Title": "shoes"}
    assert sources.listing_value(listing, sources.CLAIMED_BRAND_COLUMNS) == "Generic"
    assert sources.listing_value({"brand": "Nike", "claimed_brand": "Puma"}, sources.CLAIMED_BRAND_COLUMNS) == "Puma"
    assert sources.listing_value({"Brand": "Nike"}, sources.CLAIMED_BRAND_COLUMNS) == "Nike"
    assert sources.listing_value(listing, (sources.TITLE_COLUMN,)) == "shoes"
    assert sources.listing_value({}, sources.CLAIMED_BRAND_COLUMNS) is None
