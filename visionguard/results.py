"""`ScanResult`: the one record every stage of the scan fills in and every sink writes.

`ScanResult.to_dict()` is exactly one line of RESULTS.jsonl, so the Python API and the
CLI can never disagree about the schema.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from visionguard.sources import display_path, json_value, utf8_safe


@dataclass
class OcrToken:
    """One piece of text the OCR engine read, with its confidence and box (x0, y0, x1, y1)."""

    text: str
    confidence: float
    box: tuple[int, int, int, int]
    #: Per character of `text`, the other characters the recogniser considered, with their
    #: probabilities: the evidence that a look-alike ("5" for "S") was read as the letter.
    alternatives: list[list[tuple[str, float]]] | None = field(default=None, repr=False)


@dataclass
class AlteredName:
    """Text that imitates a brand name without spelling it correctly."""

    text: str
    brand: str
    kind: str  # e.g. "look-alike", "substitution", "transposition"
    changes: list[str]  # e.g. ["look-alike d->b"]
    score: float
    #: Where it was read: the bounding box (x0, y0, x1, y1) of its OCR token(s); None for text
    #: that did not come from a photo.
    box: tuple[int, int, int, int] | None = None
    #: "photo" (read by OCR) or "title" (the manifest's listing title).
    source: Literal["photo", "title"] = "photo"


@dataclass
class BrandMention:
    """A correctly spelled brand name or alias found in the text."""

    text: str
    brand: str
    confidence: float
    #: "photo" (read by OCR) or "title" (the manifest's listing title).
    source: Literal["photo", "title"] = "photo"


@dataclass
class ScanResult:
    """Everything the scan learned about one listing image."""

    path: str
    status: Literal["ok", "error"] = "ok"
    #: The manifest row's other columns (listing_id, seller_id, title, ...); empty for folders.
    listing: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    brand: str | None = None
    brand_score: float = 0.0
    brand_source: str | None = None  # "logo", "photo" or "text"
    altered: list[AlteredName] = field(default_factory=list)
    mentions: list[BrandMention] = field(default_factory=list)
    #: The brands the listing claims: its manifest's `claimed_brand` (a gallery brand's id when the
    #: value names one by id, name or alias, else as written: "Generic"), or, without one, the
    #: gallery brands its title names. A photo `brand` outside them is a mismatch (score.py).
    claimed_brands: list[str] = field(default_factory=list)
    duplicate_of: str | None = None
    duplicate_score: float = 0.0
    duplicate_keypoints: int = 0  # keypoints matching under one homography, when geometry confirmed the copy
    duplicate_agreement: float = 0.0  # share of the genuine photo's pixels reproduced in place, when compared
    risk: float = 0.0
    reasons: list[str] = field(default_factory=list)
    ocr: list[OcrToken] = field(default_factory=list)
    width: int | None = None
    height: int | None = None
    timings_ms: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.path, str):  # an image named with a Path (or bytes) by an API caller
            self.path = display_path(os.fsdecode(self.path)) if isinstance(self.path, (bytes, os.PathLike)) else str(self.path)
        elif not self.path.isascii():  # a str naming a file that is not UTF-8 ('caf\udce9.jpg'): escaped as the CLI does
            self.path = display_path(self.path)
        if self.listing:  # an API caller's columns: a title with half an emoji is matched and written escaped
            self.listing = {key: utf8_safe(value) if isinstance(value, str) else value for key, value in self.listing.items()}

    @classmethod
    def failed(cls, path: str, message: str, listing: dict[str, Any] | None = None) -> "ScanResult":
        return cls(path=path, status="error", error=message, listing=dict(listing or {}))

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["listing"] = json_value(self.listing)  # an API caller's listing may hold numpy values or NaN
        data["brand_score"] = round(float(self.brand_score), 4)
        data["duplicate_score"] = round(float(self.duplicate_score), 4)
        data["duplicate_agreement"] = round(float(self.duplicate_agreement), 4)
        data["risk"] = round(float(self.risk), 4)
        data["timings_ms"] = {k: round(v, 2) for k, v in self.timings_ms.items()}
        for token in data["ocr"]:
            if token["alternatives"] is None:
                del token["alternatives"]  # only written when asked for (ScanOptions.ocr_alternatives)
            token["confidence"] = round(float(token["confidence"]), 4)
            token["box"] = [int(v) for v in token["box"]]
        for item in data["altered"]:
            item["score"] = round(float(item["score"]), 4)
        for item in data["mentions"]:
            item["confidence"] = round(float(item["confidence"]), 4)
        return data
