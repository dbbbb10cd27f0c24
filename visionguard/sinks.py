"""Where results go. Sinks are context managers; every line is flushed as it is written,
so an interrupted scan keeps every finished result."""

from __future__ import annotations

import json
import os
from pathlib import Path
from types import TracebackType

from visionguard.errors import VisionGuardError
from visionguard.results import ScanResult


class JsonlSink:
    """One JSON object per line, in the order results arrive."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.count = 0
        self._handle = None

    def __enter__(self) -> "JsonlSink":
        if self.path.parent and not self.path.parent.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._handle = open(self.path, "w", encoding="utf-8")
        except OSError as error:
            raise VisionGuardError(f"cannot write results to '{self.path}': {error.strerror}") from None
        return self

    def write(self, result: ScanResult) -> None:
        self._handle.write(json.dumps(result.to_dict(), ensure_ascii=False) + "\n")
        self._handle.flush()
        self.count += 1

    def __exit__(self, kind: type | None, value: BaseException | None, trace: TracebackType | None) -> None:
        if self._handle:
            self._handle.close()
