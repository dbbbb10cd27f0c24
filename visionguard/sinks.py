"""Where results go: JSONL (the default), CSV or Parquet. Sinks are context managers; JSONL and
CSV flush every result as it is written, so an interrupted scan keeps every finished result."""

from __future__ import annotations

import csv
import glob
import io
import json
import os
from collections import Counter
from dataclasses import fields
from pathlib import Path
from types import TracebackType
from typing import Any, Callable

from visionguard.errors import VisionGuardError
from visionguard.results import ScanResult
from visionguard.sources import input_key


class ResultsWriteError(VisionGuardError):
    """The results file stopped taking results (no space left, a disk error): what was written stays."""


def _write_error(path: Path, error: OSError) -> ResultsWriteError:
    return ResultsWriteError(f"cannot write results to '{path}': {error.strerror or error}")


class Sink:
    """Writes results to a file in the order they arrive. The base class does the shared work
    (folders, clear errors, counting); a subclass opens, writes one row and closes."""

    def __init__(self, path: str | os.PathLike, append: bool = False) -> None:
        self.path = Path(path)
        self.append = append
        self.count = 0
        self.cut_cells = 0  # CSV cells cut to what a spreadsheet cell holds (`CsvSink`)

    def __enter__(self) -> "Sink":
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._open()
        except OSError as error:
            raise VisionGuardError(f"cannot write results to '{self.path}': {error.strerror}") from None
        return self

    def write(self, result: ScanResult) -> None:
        self.write_row(result.to_dict())

    def write_row(self, row: dict[str, Any]) -> None:
        """Write one result already in its dictionary form (`ScanResult.to_dict()`), e.g. from a Ray worker."""
        try:
            self._write_row(row)
        except OSError as error:  # e.g. no space left on device: one sentence, not a traceback
            raise _write_error(self.path, error) from None
        self.count += 1

    def __exit__(self, kind: type | None, value: BaseException | None, trace: TracebackType | None) -> None:
        try:
            self._close()
        except OSError as error:
            if kind is None:  # else the failure already on its way out is the one to tell
                raise _write_error(self.path, error) from None

    def _open(self) -> None:
        raise NotImplementedError

    def _write_row(self, row: dict[str, Any]) -> None:
        raise NotImplementedError

    def _close(self) -> None:
        raise NotImplementedError


class _TextSink(Sink):
    """A text file flushed after every result, so an interrupted scan keeps every finished one."""

    newline: str | None = None

    def _open(self) -> None:
        self._handle = open(self.path, "a" if self.append else "w", encoding="utf-8", newline=self.newline)
        self._start(empty=self._handle.tell() == 0)

    def _write_row(self, row: dict[str, Any]) -> None:
        self._handle.write(self._format(row))  # one write per result: a kill leaves at most
        self._handle.flush()  # one partial last line, which `finished_keys` drops

    def _close(self) -> None:
        if getattr(self, "_handle", None):
            self._handle.close()

    def _start(self, empty: bool) -> None:
        """Called once the file is open (e.g. to write a header into an empty file)."""

    def _format(self, row: dict[str, Any]) -> str:
        raise NotImplementedError


class JsonlSink(_TextSink):
    """One JSON object per line: the full result (the default, and what `--resume` reads)."""

    def _format(self, row: dict[str, Any]) -> str:
        return json.dumps(row, ensure_ascii=False, default=str) + "\n"


#: Columns of the tabular formats: every ScanResult field; nested ones as compact JSON text.
COLUMNS = [f.name for f in fields(ScanResult)]


def _flat(row: dict[str, Any]) -> list[Any]:
    return [json.dumps(row[c], ensure_ascii=False, default=str) if isinstance(row[c], (dict, list)) else row[c] for c in COLUMNS]


#: What makes a spreadsheet read a cell as a formula (OWASP, "CSV Injection").
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _as_text(cell: Any) -> Any:
    """A text cell a spreadsheet would run as a formula (a file named `=HYPERLINK(...).jpg`), with a
    leading ' so that it shows as text, as OWASP advises; numbers (-0.03) stay numbers."""
    return "'" + cell if isinstance(cell, str) and cell.startswith(_FORMULA_STARTS) else cell


#: The most a spreadsheet cell holds: Excel's limit, 32,767 characters counted in UTF-16 units
#: (an emoji counts 2). Excel cuts a longer CSV cell, or spills it into the next rows, without a word.
CSV_CELL_LIMIT = 32_767
#: What ends a CSV cell cut to `CSV_CELL_LIMIT` (ASCII: one UTF-16 unit a character).
CSV_CUT_MARK = " ...[cut by VisionGuard: {length:,} characters, more than a spreadsheet cell holds; .jsonl and .parquet results keep them all]"


def _fit_cell(cell: Any) -> tuple[Any, bool]:
    """A text cell longer than a spreadsheet cell holds, cut to `CSV_CELL_LIMIT` UTF-16 units
    with `CSV_CUT_MARK` at its end (a cut JSON cell is no longer valid JSON: the mark says where
    the whole value is); whether it was cut."""
    if not isinstance(cell, str) or len(cell) <= CSV_CELL_LIMIT // 2:  # at most 2 units a character: fits
        return cell, False
    units = cell.encode("utf-16-le")
    if len(units) <= 2 * CSV_CELL_LIMIT:
        return cell, False
    mark = CSV_CUT_MARK.format(length=len(cell))
    kept = units[: 2 * (CSV_CELL_LIMIT - len(mark))].decode("utf-16-le", errors="ignore")  # a split emoji is dropped
    return kept + mark, True


class CsvSink(_TextSink):
    """One row per result for spreadsheets: scalar fields as columns, nested ones (altered
    names, mentions, OCR, listing, timings) as compact JSON in their column. A text cell that
    starts with = + - @, a tab or CR gets a leading ' (a spreadsheet would run it as a formula),
    and one longer than a spreadsheet cell holds (`CSV_CELL_LIMIT`, e.g. the OCR of a photo full
    of text, a manifest's long description) is cut, ending in `CSV_CUT_MARK`; `cut_cells` counts
    them. JSONL and Parquet keep every value exactly."""

    newline = ""

    def _start(self, empty: bool) -> None:
        if empty:
            csv.writer(self._handle).writerow(COLUMNS)

    def _format(self, row: dict[str, Any]) -> str:
        cells = []
        for cell in _flat(row):
            cell, cut = _fit_cell("" if cell is None else _as_text(cell))
            cells.append(cell)
            self.cut_cells += cut
        buffer = io.StringIO()
        csv.writer(buffer).writerow(cells)
        return buffer.getvalue()


class ParquetSink(Sink):
    """Columnar results for analytics (pyarrow): typed scalar columns, nested fields as JSON
    text; written in row groups of `rows_per_group`, so memory stays flat. A Parquet file is
    only readable once closed, so it is written as `OUT.partial` and renamed when the sink
    closes (Ctrl-C included): a killed scan leaves an earlier OUT as it was. `--resume` needs JSONL."""

    rows_per_group = 2048

    def _open(self) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        if self.append:
            raise VisionGuardError("Parquet results cannot be appended to; write them to a new file")
        types = {"brand_score": pa.float64(), "duplicate_score": pa.float64(), "risk": pa.float64(),
                 "duplicate_keypoints": pa.int64(), "duplicate_agreement": pa.float64(), "width": pa.int64(), "height": pa.int64()}
        self._schema = pa.schema([(c, types.get(c, pa.string())) for c in COLUMNS])
        self._partial = self.path.with_name(self.path.name + ".partial")
        try:
            self._writer = pq.ParquetWriter(str(self._partial), self._schema)
        except OSError:  # a full disk: no unreadable stub left behind
            self._partial.unlink(missing_ok=True)
            raise
        self._rows: list[list[Any]] = []

    def _write_row(self, row: dict[str, Any]) -> None:
        self._rows.append(_flat(row))
        if len(self._rows) >= self.rows_per_group:
            self._flush()

    def _flush(self) -> None:
        import pyarrow as pa

        if self._rows:
            columns = [pa.array(values, type=f.type) for values, f in zip(zip(*self._rows), self._schema)]
            self._writer.write_table(pa.Table.from_arrays(columns, schema=self._schema))
            self._rows = []

    def _close(self) -> None:
        if getattr(self, "_writer", None):
            try:
                self._flush()
                self._writer.close()
            except OSError:  # a full disk: the part written is unreadable, and an earlier OUT stays
                self._partial.unlink(missing_ok=True)
                raise
            os.replace(self._partial, self.path)


SINKS: dict[str, type[Sink]] = {".jsonl": JsonlSink, ".csv": CsvSink, ".parquet": ParquetSink}


def open_sink(path: str | os.PathLike, append: bool = False) -> Sink:
    """The sink for a results file, chosen by its suffix (.jsonl, the default format, .csv or .parquet)."""
    suffix = Path(path).suffix.lower()
    if os.fspath(path) == "-":
        raise VisionGuardError(
            "results are written to a file (--out RESULTS.jsonl, .csv or .parquet), not to standard output: --resume "
            "reads them back; to follow a scan, run 'tail -f RESULTS.jsonl' beside it"
        )
    if suffix not in SINKS:
        raise VisionGuardError(f"results file '{path}' must end in {', '.join(SINKS)}")
    return SINKS[suffix](path, append=append)


class ShardedSink:
    """Results split over files of `shard_size` results each: OUT-00000.jsonl, OUT-00001.jsonl, ...
    (any sink format). Resuming starts a new shard after the existing ones."""

    def __init__(self, path: str | os.PathLike, shard_size: int, append: bool = False) -> None:
        self.path = Path(path)
        self.shard_size = shard_size
        existing = shard_paths(self.path) if append else []
        self._next = int(existing[-1].stem.rsplit("-", 1)[1]) + 1 if existing else 0
        self._current: Sink | None = None
        self.count = 0
        self.cut_cells = 0

    def __enter__(self) -> "ShardedSink":
        open_sink(self.path)  # checks the format now, not at the first result
        return self

    def write(self, result: ScanResult) -> None:
        self.write_row(result.to_dict())

    def write_row(self, row: dict[str, Any]) -> None:
        if self._current is None or self._current.count >= self.shard_size:
            self._close_current()
            shard = self.path.with_name(f"{self.path.stem}-{self._next:05d}{self.path.suffix}")
            try:
                self._current = open_sink(shard).__enter__()
            except VisionGuardError as error:
                raise ResultsWriteError(str(error)) from None
            self._next += 1
        cut = self._current.cut_cells
        self._current.write_row(row)
        self.count += 1
        self.cut_cells += self._current.cut_cells - cut

    def __exit__(self, kind: type | None, value: BaseException | None, trace: TracebackType | None) -> None:
        self._close_current(kind)

    def _close_current(self, kind: type | None = None) -> None:
        if self._current is not None:
            current, self._current = self._current, None
            current.__exit__(kind, None, None)


def shard_paths(path: str | os.PathLike) -> list[Path]:
    """The shards of a sharded results path, in order."""
    path = Path(path)
    found = path.parent.glob(f"{glob.escape(path.stem)}-[0-9][0-9][0-9][0-9][0-9]{glob.escape(path.suffix)}")
    return sorted(found)


def finished_keys(path: str | os.PathLike, each_row: Callable[[dict[str, Any]], None] | None = None) -> Counter[str]:
    """Inputs already in a results file (`sources.input_key`), with how many lines each has (an
    input listed twice has two), for `--resume`, read line by line. A last line cut short
    by a kill is removed from the file (its image is scanned again), so each input ends with
    exactly one line. `each_row`, if given, is called with every whole line's result as it is
    read (the CLI counts the verdicts already written for its summary: one pass, flat memory)."""
    path = Path(path)
    if not path.exists():
        return Counter()
    done: Counter[str] = Counter()
    complete = 0  # bytes up to the end of the last whole line
    try:
        with open(path, "rb") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.endswith(b"\n"):
                    break
                try:
                    row = json.loads(line)
                    if not isinstance(row["path"], str):
                        raise TypeError("a result's path is text")
                    done[input_key(row["path"], row.get("listing") or {})] += 1
                except (ValueError, KeyError, TypeError, AttributeError):  # a list, a number, a listing that is text
                    raise VisionGuardError(
                        f"cannot resume: line {number} of '{path}' is not a VisionGuard result; scan to a new --out file"
                    ) from None
                if each_row is not None:
                    each_row(row)
                complete += len(line)
        if complete < path.stat().st_size:
            with open(path, "r+b") as handle:
                handle.truncate(complete)
    except OSError as error:
        raise VisionGuardError(f"cannot read results '{path}' to resume: {error.strerror}") from None
    return done
