"""Where the images come from, in a stable order: folders walked recursively, file lists,
manifests whose extra columns travel with each image, and tar shards."""

from __future__ import annotations

import base64
import csv
import datetime
import itertools
import json
import math
import os
import re
import sys
import tarfile
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterator, Sequence

from visionguard.errors import VisionGuardError

#: File names a folder walk and a tar shard take for images. HEIC/HEIF are included although they
#: do not decode here: such a photo gets an error line, not silence.
IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".jfif", ".jpe", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff", ".avif", ".heic", ".heif"}
)
#: Largest tar member read into memory: listing photos are a few MB, and a member is read whole
#: (a sparse or hostile member of gigabytes would otherwise take the scan's memory with it).
MAX_MEMBER_BYTES = 128 * 1024 * 1024


def is_image_name(name: str) -> bool:
    return os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS


def display_path(relative: str) -> str:
    """A printable, JSON-safe relative path with `/` separators.

    File names that are not valid UTF-8 arrive as surrogate escapes; they are shown with
    backslash escapes (e.g. `caf\\xe9.jpg`) rather than breaking the JSON line.
    """
    text = relative.replace(os.sep, "/")
    try:
        return os.fsencode(text).decode("utf-8", errors="backslashreplace")
    except UnicodeEncodeError:  # a surrogate no file name decodes to (half an emoji from a JSON manifest)
        return utf8_safe(text)


def utf8_safe(text: str) -> str:
    """`text` as UTF-8 can carry it: a lone surrogate (a JSON manifest's "\\ud83d", half an
    emoji a title cut in JavaScript leaves) becomes a backslash escape instead of crashing the
    sink that writes the result, after a scan of hours."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", errors="backslashreplace").decode("utf-8")
    return text


def iter_image_files(root: str | os.PathLike) -> Iterator[tuple[str, str]]:
    """Yield (path to open, display path relative to root) for every image file under root."""
    root = os.fspath(root)
    if not os.path.exists(root):
        raise VisionGuardError(f"input folder '{root}' does not exist")
    if not os.path.isdir(root):
        raise VisionGuardError(f"input '{root}' is not a folder")
    for folder, subfolders, files in os.walk(root, onerror=None, followlinks=False):
        subfolders.sort()
        for name in sorted(files):
            if is_image_name(name):
                full = os.path.join(folder, name)
                yield full, display_path(os.path.relpath(full, root))



#: Manifest columns that may name the image, in order of preference; a manifest's column
#: names are compared with case, spaces and hyphens aside ("Image Path" is image_path), after
#: `_EXACT_IMAGE_COLUMNS`.
IMAGE_COLUMNS = ("image", "image_path", "image_file", "path", "file", "filename", "file_name", "photo", "image_url")
#: The image columns earlier versions read, by their exact names only: one of them, named so, is
#: taken before any other (a manifest that worked before reads the same column).
_EXACT_IMAGE_COLUMNS = ("image", "image_path", "path", "file")
#: The manifest column holding the listing's title: its text is matched for brand names and
#: imitations of them, like the text OCR reads in the photo.
TITLE_COLUMN = "title"
#: The manifest column holding the brand the seller states for the listing ("Nike", "Generic"):
#: a photo that shows another brand is a reason (score.py).
CLAIMED_BRAND_COLUMN = "claimed_brand"
#: Other names the claimed brand goes by in marketplace exports.
CLAIMED_BRAND_COLUMNS = (CLAIMED_BRAND_COLUMN, "brand")
#: The longest CSV manifest cell read: a description pasted into a column fits; a quote left
#: open, which makes the rest of the file one cell, gets an error instead of gigabytes.
MANIFEST_CELL_LIMIT = 16 * 1024 * 1024
LIST_SUFFIXES = (".txt", ".lst")
MANIFEST_SUFFIXES = (".csv", ".jsonl", ".parquet")
TAR_SUFFIXES = (".tar",)


@dataclass(frozen=True)
class ScanInput:
    """One image to scan: what to open, the path results are keyed by, and the manifest row's
    other columns (listing_id, seller_id, title, claimed brand, ...), carried into the result."""

    source: str | bytes
    path: str
    listing: dict[str, Any] = field(default_factory=dict)
    #: Set when the input could not be read at all (a damaged tar shard): its result line is this error.
    error: str | None = None

    @property
    def key(self) -> str:
        return input_key(self.path, self.listing)


def input_key(path: str, listing: dict[str, Any]) -> str:
    """What identifies one input, and its result line, for `--resume`: the path, plus the
    listing_id when a manifest names the same image for several listings."""
    listing_id = listing.get("listing_id")
    return path if listing_id is None else f"{path}\t{listing_id}"


def iter_inputs(inputs: Sequence[str | os.PathLike]) -> Iterator[ScanInput]:
    """Every image of every input, in order: a folder (walked recursively), a file list
    (.txt/.lst, one path per line), a manifest (.csv/.jsonl/.parquet with an image column), a tar
    shard or an image. With several inputs, folder paths start with the folder's name, so that keys stay distinct."""
    specs = _specs(inputs)
    for spec, name in zip(specs, input_names(specs)):
        yield from iter_input(spec, name, prefix_folders=len(specs) > 1)


def input_names(inputs: Sequence[str | os.PathLike]) -> list[str]:
    """How result paths name each input (a folder's prefix, a shard's or an image file's name): its
    base name, or its path as given where two inputs share a base name (two crawls' shard-0001.tar)."""
    specs = _specs(inputs)
    bases = {os.path.abspath(spec): os.path.basename(os.path.abspath(spec)) for spec in specs}
    clashes = Counter(bases.values())  # one input given twice is no clash
    names = []
    for spec in specs:
        base = bases[os.path.abspath(spec)]
        names.append(display_path(base if clashes[base] == 1 else os.path.normpath(spec)))
    return names


def iter_input(spec: str | os.PathLike, name: str | None = None, prefix_folders: bool = False) -> Iterator[ScanInput]:
    """The images of one input (`iter_inputs` for a list), named `name` (`input_names`; default:
    its base name); `prefix_folders` starts folder paths with it, as a scan of several inputs
    does. The Ray engine reads each input in its own task."""
    spec = os.fspath(spec)
    name = name or display_path(os.path.basename(os.path.abspath(spec)))
    if prefix_folders and os.path.isdir(spec):
        yield from (ScanInput(item.source, f"{name}/{item.path}") for item in _iter_one(spec, name))
    else:
        yield from _iter_one(spec, name)


def iter_keys(inputs: Sequence[str | os.PathLike]) -> Iterator[str]:
    """The key (`input_key`) of every input `iter_inputs` yields, in order, without reading an
    image: tar shards are listed by seeking over their data."""
    specs = _specs(inputs)
    for spec, name in zip(specs, input_names(specs)):
        if os.path.isfile(spec) and spec.lower().endswith(TAR_SUFFIXES):
            for entry in _tar_entries(spec, stream=False):
                yield name if isinstance(entry, str) else f"{name}/{display_path(entry[1].name)}"
        else:
            yield from (item.key for item in iter_input(spec, name, prefix_folders=len(specs) > 1))


def count_inputs(inputs: Sequence[str | os.PathLike]) -> int:
    """How many images `iter_inputs` will yield (tar shards are listed, not decoded)."""
    return sum(1 for _ in iter_keys(inputs))


def _specs(inputs: Sequence[str | os.PathLike] | str | os.PathLike) -> list[str]:
    if isinstance(inputs, (str, bytes, os.PathLike)):  # one input given bare, not a list of its characters
        return [os.fspath(inputs)]
    return [os.fspath(spec) for spec in inputs]


def _iter_one(spec: str, name: str) -> Iterator[ScanInput]:
    if os.path.isdir(spec):
        yield from (ScanInput(source, path) for source, path in iter_image_files(spec))
        return
    if spec == "-" and not os.path.exists(spec):
        raise VisionGuardError(
            "input '-': image names are not read from standard input (a scan reads its inputs twice: to count "
            "them and to resume); write them to a file list (find DIR -name '*.jpg' > list.txt) and scan list.txt"
        )
    if not os.path.exists(spec):
        raise VisionGuardError(f"input '{spec}' does not exist")
    suffix = os.path.splitext(spec)[1].lower()
    if suffix in LIST_SUFFIXES:
        yield from _file_list(spec)
    elif suffix in MANIFEST_SUFFIXES:
        yield from _manifest(spec, suffix)
    elif suffix in TAR_SUFFIXES:
        yield from _tar(spec, name)
    elif is_image_name(spec):
        yield ScanInput(spec, name)
    else:
        raise VisionGuardError(
            f"input '{spec}' is not a folder, a file list (.txt, .lst), a manifest (.csv, .jsonl, .parquet), "
            "a tar shard (.tar) or an image"
        )


def _resolve(base: str, name: str) -> str:
    return name if os.path.isabs(name) else os.path.join(os.path.dirname(os.path.abspath(base)), name)


_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")


def _url_error(base: str, name: str) -> str | None:
    """A list or manifest naming images by URL gets, on each such line, why it is not read
    (instead of "No such file or directory" for a path nobody meant)."""
    if _URL.match(name) and not os.path.lexists(_resolve(base, name)):
        return ("a URL, not a file: VisionGuard reads local files and downloads nothing; fetch the images "
                "first, or give the Python API their bytes")
    return None


def column_key(name: str) -> str:
    """A column name as compared: "Image Path", "image-path" and "IMAGE_PATH" are one."""
    return "_".join(name.strip().lower().replace("-", " ").split())


def listing_value(listing: dict[str, Any], names: Sequence[str]) -> Any:
    """The value of the first of `names` the listing has, its column named in any case or spacing
    (one named exactly first): "Claimed Brand" before "brand"."""
    keys = None
    for name in names:
        if name in listing:
            return listing[name]
        if keys is None:
            keys = {column_key(str(k)): k for k in listing}
        if name in keys:
            return listing[keys[name]]
    return None


def _file_list(spec: str) -> Iterator[ScanInput]:
    """Paths one per line (relative ones to the list's folder); blank lines and # comments skipped.
    Spaces around a name are dropped, unless a file is named with them."""
    with open(spec, encoding="utf-8-sig") as handle:
        for line in _utf8_lines(handle, spec, "file list"):
            exact = line.rstrip("\r\n")
            name = exact.strip()
            if not name or name.startswith("#"):
                continue
            if exact != name and os.path.lexists(_resolve(spec, exact)):
                name = exact
            yield ScanInput(_resolve(spec, name), name, error=_url_error(spec, name))


def _manifest(spec: str, suffix: str) -> Iterator[ScanInput]:
    rows = {".csv": _csv_rows, ".jsonl": _jsonl_rows, ".parquet": _parquet_rows}[suffix](spec)
    column = None
    for number, row in rows:
        if column is None:
            # a column named exactly as earlier versions read it first: a manifest that added "image_path"
            # beside an export's "Image" (URLs) keeps reading image_path (and its results stay resumable)
            column = next((c for c in _EXACT_IMAGE_COLUMNS if c in row), None)
            if column is None:
                keys = {column_key(str(c)): c for c in reversed(list(row))}  # the first of two that compare equal
                column = next((keys[c] for c in IMAGE_COLUMNS if c in keys), None)
            if column is None:
                raise VisionGuardError(
                    f"manifest '{spec}' has no image column ({', '.join(IMAGE_COLUMNS)}); its columns are: {', '.join(row)}"
                )
        name = row.get(column)
        if name is not None and not isinstance(name, str):
            raise VisionGuardError(f"row {number} of manifest '{spec}': its '{column}' is {name!r}, not a path")
        if not name:
            raise VisionGuardError(f"row {number} of manifest '{spec}' has no '{column}'")
        listing = {utf8_safe(str(k)): json_value(v) for k, v in row.items() if k != column}
        yield ScanInput(_resolve(spec, name), display_path(name), listing, _url_error(spec, name))


def json_value(value: Any) -> Any:
    """A manifest cell as JSON can carry it into every result format: Parquet's timestamps,
    dates and decimals as text, durations as seconds, binary as base64, NaN and infinities as null; numpy scalars and
    arrays (a pandas row given to the Python API) as the plain values they hold."""
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, str):
        return utf8_safe(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    np = sys.modules.get("numpy")  # a numpy value comes with numpy loaded: not imported here (results, sinks, text)
    if np is not None:
        if isinstance(value, (np.datetime64, np.timedelta64)) and np.isnat(value):
            return None
        if isinstance(value, np.timedelta64):
            return float(value / np.timedelta64(1, "s"))
        if isinstance(value, np.datetime64):
            return str(value)
        if isinstance(value, np.generic):
            return json_value(value.item())
        if isinstance(value, np.ndarray):
            return json_value(value[()]) if value.ndim == 0 else [json_value(item) for item in value]
    if isinstance(value, datetime.timedelta):  # Parquet's durations, pandas' Timedelta: seconds, not "1 day, 0:00:00"
        return value.total_seconds()
    if type(value).__name__ in ("NAType", "NaTType"):  # pandas' missing values (NaT would say "NaT")
        return None
    if isinstance(value, (list, tuple)):
        return [json_value(item) for item in value]
    if isinstance(value, dict):
        return {utf8_safe(str(key)): json_value(item) for key, item in value.items()}
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode("ascii")
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def _utf8_lines(handle, spec: str, kind: str) -> Iterator[str]:
    """The lines of a text input, or one sentence where it is not UTF-8."""
    number = 0
    try:
        for number, line in enumerate(handle, start=1):
            yield line
    except UnicodeDecodeError:
        raise VisionGuardError(f"{kind} '{spec}' is not UTF-8 text (after line {number}): save it as UTF-8") from None


def _csv_rows(spec: str) -> Iterator[tuple[int, dict[str, Any]]]:
    if csv.field_size_limit() < MANIFEST_CELL_LIMIT:  # Python's default, 128 KiB, refuses a long pasted description
        csv.field_size_limit(MANIFEST_CELL_LIMIT)
    with open(spec, newline="", encoding="utf-8-sig") as handle:  # -sig: Excel's "CSV UTF-8" starts with a BOM
        lines = _utf8_lines(handle, spec, "manifest")
        header = next(lines, "")
        rows = csv.DictReader(  # a ragged row's rest in "extra_values"
            itertools.chain([header], lines), delimiter=_delimiter(header), restkey="extra_values"
        )
        number = 1
        try:
            for number, row in enumerate(rows, start=2):
                yield number, row
        except csv.Error as error:
            raise VisionGuardError(
                f"row {number + 1} of manifest '{spec}' is not readable CSV: {error} (a quote left open "
                "takes in the rest of the file as one cell)"
            ) from None


def _delimiter(header: str) -> str:
    """Commas, unless the header has none and is split by what Excel writes where the decimal
    mark is a comma (';'), by tabs or by '|'."""
    if "," not in header:
        for delimiter in (";", "\t", "|"):
            if delimiter in header:
                return delimiter
    return ","


def _jsonl_rows(spec: str) -> Iterator[tuple[int, dict[str, Any]]]:
    with open(spec, encoding="utf-8-sig") as handle:
        for number, line in enumerate(_utf8_lines(handle, spec, "manifest"), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError:
                raise VisionGuardError(f"line {number} of manifest '{spec}' is not JSON") from None
            if not isinstance(row, dict):
                raise VisionGuardError(f"line {number} of manifest '{spec}' is not a JSON object")
            yield number, row


def _parquet_rows(spec: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """Rows of a Parquet manifest, read a batch at a time (flat memory on any size)."""
    import pyarrow.parquet as pq

    try:
        source = pq.ParquetFile(spec)
    except Exception as error:  # noqa: BLE001 - pyarrow raises several types for a bad file
        raise VisionGuardError(f"cannot read Parquet manifest '{spec}': {error}") from None
    number = 0
    for batch in source.iter_batches(batch_size=4096):
        for row in batch.to_pylist():
            number += 1
            yield number, row


def _tar_entries(spec: str, stream: bool = True) -> Iterator[tuple[tarfile.TarFile, tarfile.TarInfo] | str]:
    """The image members of a shard in order, then, where the shard is cut short or damaged, one
    message saying after which member: what lies beyond cannot be read, and must not vanish."""
    after = None
    size = os.path.getsize(spec)
    try:
        with tarfile.open(spec, "r|*" if stream else "r:*") as archive:  # streamed: any size, read once
            for member in archive:
                archive.members.clear()  # tarfile keeps every header read: not over millions of members
                after = f"after member '{display_path(member.name)}'"
                if (member.isfile() or member.issym() or member.islnk()) and is_image_name(member.name):
                    yield archive, member  # a link gets its line too (`_tar`): an input, not silence
                    if not stream and member.offset_data + member.size > size:
                        return  # cut short inside this member, which gets its own line (`_tar`)
            end = archive.offset
    except (tarfile.TarError, EOFError, OSError) as error:
        if after is None:
            yield f"cannot read tar shard: {error}"
        else:
            yield f"tar shard is cut short or damaged {after}: {error}; the rest of it could not be read"
        return
    if _damaged_at(spec, end):
        # tarfile ends an archive quietly at a header it cannot parse, as at its end marker
        yield f"tar shard has an unreadable header {after} (byte {end}); the rest of it could not be read"


def _damaged_at(spec: str, offset: int) -> bool:
    """Whether the 512-byte block where tarfile stopped holds something other than the end
    marker (zeros) or the end of the file. Compressed shards are not checked (offsets differ)."""
    with open(spec, "rb") as handle:
        if handle.read(6)[:3] in (b"\x1f\x8b\x08", b"BZh", b"\xfd7z"):
            return False
        handle.seek(offset)
        block = handle.read(tarfile.BLOCKSIZE)
    return bool(block.strip(b"\0"))


def _tar(spec: str, shard: str) -> Iterator[ScanInput]:
    """Images inside a tar shard, as bytes; paths are `SHARD.tar/member`. A damaged shard ends with
    an error line for the shard itself (path `SHARD.tar`), a member cut short with one for it."""
    for entry in _tar_entries(spec):
        if isinstance(entry, str):
            yield ScanInput(b"", shard, error=entry)
            return
        archive, member = entry
        path = f"{shard}/{display_path(member.name)}"
        if not member.isfile():
            yield ScanInput(b"", path, error=f"tar member is a link to '{member.linkname}', not an image file: not followed")
            continue
        if member.size > MAX_MEMBER_BYTES:
            yield ScanInput(b"", path, error=f"tar member is {member.size} bytes, above the limit of {MAX_MEMBER_BYTES}")
            continue
        try:
            handle = archive.extractfile(member)
            data = handle.read() if handle else b""
        except (tarfile.TarError, EOFError, OSError) as error:
            yield ScanInput(b"", path, error=f"tar member is cut short: {error}; the shard ends inside it")
            return
        yield ScanInput(data, path)
