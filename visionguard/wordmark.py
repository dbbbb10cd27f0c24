"""Set aside logo matches that printed words explain.

A wordmark logo (SAMSUNG, FUJIFILM) is a printed word, and the logo model puts printed words
near wordmarks: on the bench listings, 74 of 1,000 photos were given the demo's SAMSUNG or
FUJIFILM logo for a printed "New Balance", "Original" or "Sale 50%". Where OCR read text in
the window that matched and none of the photo's text names or imitates that brand, the
window is embedded again with that text painted over; if the brand then falls under the
threshold, the printed words were the match and the logo verdict is set aside. Text that a
brand's own logo holds (read by OCR at index build: `GalleryIndex.logo_text`) is the brand's.
"""

from __future__ import annotations

import re
from difflib import SequenceMatcher

import numpy as np

from visionguard.embed import Box, box_intersection
from visionguard.gallery import Brand
from visionguard.index import GalleryIndex
from visionguard.models import EmbeddingModel
from visionguard.results import OcrToken
from visionguard.search import SearchThresholds, VisualMatch

#: Pixels added around a token's box before it is painted over (OCR boxes hug the glyphs).
PAD = 3
#: Letters and digits a token needs to count as a printed word.
MIN_WORD = 3
#: Recogniser confidence a token needs to count as a printed word (bits of logo graphics on
#: held-out listings: 0.03-0.35) ...
MIN_CONFIDENCE = 0.5
#: ... and a long one (`LONG_WORD` letters and digits or more), which logo graphics do not give:
#: printed "New Balance" and "Original" on the bench listings were read at 0.37-0.49.
LONG_WORD, MIN_CONFIDENCE_LONG = 6, 0.35
#: Share of a token's box that must lie in the matching window: a window cut through a printed
#: word ("NI|KE") matches on the part it holds.
MIN_INSIDE = 0.25
#: Similarity (difflib ratio, against the closest part of a name as long as the token) from
#: which a token is a misreading of a brand name: "FLUCENE" of Lucene, "363" of 365.
SAME_WORD = 0.66


def printed_words(tokens: list[OcrToken]) -> list[OcrToken]:
    """The tokens that count as printed words: `MIN_WORD` letters and digits or more, read with
    `MIN_CONFIDENCE` or more (long ones: `MIN_CONFIDENCE_LONG`). OCR reads shorter and less
    sure bits ("Ai", "X", "73"; "WWW" at 0.03) from logo graphics."""
    words = []
    for token in tokens:
        text = _plain(token.text)
        if len(text) >= MIN_WORD and token.confidence >= (MIN_CONFIDENCE_LONG if len(text) >= LONG_WORD else MIN_CONFIDENCE):
            words.append(token)
    return words


def foreign_tokens(tokens: list[OcrToken], window: Box, brand: Brand, logo_text: tuple[str, ...] | list[str] = ()) -> list[OcrToken]:
    """Printed words in `window` (at least `MIN_INSIDE` of the box) that are no part of the
    brand's names or of the text in its own logos (`logo_text`, read at index build: the
    AppGallery logo says "HUAWEI"): a wordmark read as "LUCENE" belongs to "Apache Lucene",
    and one misread as "FUJHFILM" to Fujifilm; a printed "New Balance" does not belong to
    Samsung."""
    names = [_plain(name) for name in (*brand.names, brand.id, *logo_text)]
    return [
        token
        for token in printed_words(tokens)
        if _share_inside(token.box, window) >= MIN_INSIDE and not any(_resembles(_plain(token.text), n) for n in names if n)
    ]


def paint_over(crop: np.ndarray, boxes: list[Box]) -> np.ndarray:
    """`crop` with each box (crop coordinates; clipped to the crop, as a token may run over the
    window's edge) filled with the median colour of its outline: the plate or photo the text
    was printed on."""
    out = crop.copy()
    height, width = out.shape[:2]
    for x0, y0, x1, y1 in boxes:
        x0, y0, x1, y1 = max(0, x0 - PAD), max(0, y0 - PAD), min(width, x1 + PAD), min(height, y1 + PAD)
        if x1 - x0 < 2 or y1 - y0 < 2:
            continue
        ring = np.concatenate([out[y0, x0:x1], out[y1 - 1, x0:x1], out[y0:y1, x0], out[y0:y1, x1 - 1]])
        out[y0:y1, x0:x1] = np.median(ring, axis=0).astype(out.dtype)
    return out


def printed_words_explain(model: EmbeddingModel, index: GalleryIndex, image: np.ndarray, match: VisualMatch,
                          tokens: list[OcrToken], brand: Brand, thresholds: SearchThresholds, k: int = 16) -> list[OcrToken]:
    """The tokens that explain `match.brand` (the match falls under the threshold once they are
    painted over), or [] where the logo stands without them."""
    window = match.brand_box or (0, 0, image.shape[1], image.shape[0])
    foreign = foreign_tokens(tokens, window, brand, index.logo_text.get(brand.id, ()))
    if not foreign:
        return []
    x0, y0, x1, y1 = window
    crop = paint_over(image[y0:y1, x0:x1], [(t.box[0] - x0, t.box[1] - y0, t.box[2] - x0, t.box[3] - y0) for t in foreign])
    scores, ids = index.search(model.embed([crop]), k)
    left = max((float(s) for s, i in zip(scores[0], ids[0]) if i >= 0 and index.brand_of[i] == match.brand), default=0.0)
    return foreign if left < thresholds.logo else []


def _share_inside(box: Box, window: Box) -> float:
    """The share of `box`'s area that lies inside `window`."""
    area = (box[2] - box[0]) * (box[3] - box[1])
    return box_intersection(box, window) / area if area > 0 else 0.0


def _resembles(text: str, name: str) -> bool:
    """`text` spells, or nearly spells, `name` or a part of it (or `name` is part of `text`)."""
    if text in name or name in text:
        return True
    short, long = sorted((text, name), key=len)
    width = len(short)
    return max(SequenceMatcher(None, short, long[i : i + width]).ratio() for i in range(len(long) - width + 1)) >= SAME_WORD


def _plain(text: str) -> str:
    return re.sub(r"[^0-9a-z]", "", text.lower())

