"""Where results go: JSONL (the default) or CSV. Sinks are context managers; every result is
flushed as it is written, so an interrupted scan keeps every finished result."""

from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import fields
from pathlib import Path
from types import TracebackType
from typing import Any

from visionguard.errors import VisionGuardError
from visionguard.results import ScanResult
from visionguard.sources import input_key


class Sink:
    """Writes results to a file in the order they arrive, flushing each one. Subclasses say how
    one result becomes text; opening, folders, appending and errors are done here."""

    newline: str | None = None

    def __init__(self, path: str | os.PathLike, append: bool = False) -> None:
        self.path = Path(path)
        self.append = append
        self.count = 0
        self._handle = None

    def __enter__(self) -> "Sink":
        if self.path.parent and not self.path.parent.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._handle = open(self.path, "a" if self.append else "w", encoding="utf-8", newline=self.newline)
        except OSError as error:
            raise VisionGuardError(f"cannot write results to '{self.path}': {error.strerror}") from None
        self._start(empty=self._handle.tell() == 0)
        return self

    def write(self, result: ScanResult) -> None:
        self._handle.write(self._format(result.to_dict()))  # one write per result: a kill leaves at
        self._handle.flush()  # most one partial last line, which `finished_keys` drops
        self.count += 1

    def __exit__(self, kind: type | None, value: BaseException | None, trace: TracebackType | None) -> None:
        if self._handle:
            self._handle.close()

    def _start(self, empty: bool) -> None:
        """Called once the file is open (e.g. to write a header into an empty file)."""

    def _format(self, row: dict[str, Any]) -> str:
        raise NotImplementedError


class JsonlSink(Sink):
    """One JSON object per line: the full result (the default, and what `--resume` reads)."""

    def _format(self, row: dict[str, Any]) -> str:
        return json.dumps(row, ensure_ascii=False) + "\n"


class CsvSink(Sink):
    """One row per result for spreadsheets: scalar fields as columns, nested ones (altered
    names, mentions, OCR, listing, timings) as compact JSON in their column."""

    newline = ""
    columns = [f.name for f in fields(ScanResult)]

    def _start(self, empty: bool) -> None:
        self._writer = csv.writer(self._handle)
        if empty:
            self._writer.writerow(self.columns)

    def _format(self, row: dict[str, Any]) -> str:
        buffer = io.StringIO()
        cells = [row[c] if not isinstance(row[c], (dict, list)) else json.dumps(row[c], ensure_ascii=False) for c in self.columns]
        csv.writer(buffer).writerow(["" if cell is None else cell for cell in cells])
        return buffer.getvalue()


SINKS: dict[str, type[Sink]] = {".jsonl": JsonlSink, ".csv": CsvSink}


def open_sink(path: str | os.PathLike, append: bool = False) -> Sink:
    """The sink for a results file, chosen by its suffix (.jsonl, the default format, or .csv)."""
    suffix = Path(path).suffix.lower()
    if suffix not in SINKS:
        raise VisionGuardError(f"results file '{path}' must end in {' or '.join(SINKS)}")
    return SINKS[suffix](path, append=append)


def finished_keys(path: str | os.PathLike) -> set[str]:
    """Inputs already in a results file (`sources.input_key`), for `--resume`, read line by line. A last line cut short
    by a kill is removed from the file (its image is scanned again), so each input ends with
    exactly one line."""
    path = Path(path)
    if not path.exists():
        return set()
    done: set[str] = set()
    complete = 0  # bytes up to the end of the last whole line
    try:
        with open(path, "rb") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.endswith(b"\n"):
                    break
                try:
                    row = json.loads(line)
                    done.add(input_key(row["path"], row.get("listing") or {}))
                except (ValueError, KeyError, TypeError):
                    raise VisionGuardError(
                        f"cannot resume: line {number} of '{path}' is not a VisionGuard result; scan to a new --out file"
                    ) from None
                complete += len(line)
        if complete < path.stat().st_size:
            with open(path, "r+b") as handle:
                handle.truncate(complete)
    except OSError as error:
        raise VisionGuardError(f"cannot read results '{path}' to resume: {error.strerror}") from None
    return done
