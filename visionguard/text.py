"""Brand names in OCR text: correct mentions, and altered spellings that imitate a brand.

This is the first rule set: exact mentions (names and aliases, case-insensitive), look-alike
characters (0/O, 1/l, 5/S, rn/m, d/b, ...), Unicode confusables, separators inside a name
("ADI DAS", "A.D.I.D.A.S") and a single typo on longer names. Ordinary English words
(by `wordfreq` frequency) and other catalogue brands are never reported as imitations.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable, Sequence

from visionguard.gallery import Brand
from visionguard.results import AlteredName, BrandMention, OcrToken

#: Characters that print or OCR like a letter: text character -> the letter it passes for.
LOOKALIKE_CHARS: dict[str, str] = {
    "0": "o", "1": "l", "|": "l", "!": "i", "3": "e", "4": "a", "@": "a", "5": "s", "$": "s",
    "6": "g", "7": "t", "8": "b", "9": "g", "2": "z",
}
#: Letter pairs that look alike in print or to an OCR engine (either direction).
LOOKALIKE_LETTERS: frozenset[frozenset[str]] = frozenset(
    frozenset(pair)
    for pair in ("bd", "il", "ij", "lt", "ef", "qg", "uv", "ce", "oq", "co", "mn", "nh", "pq", "vy", "kx", "oa", "ao")
)
#: Letter sequences that pass for one letter: text sequence -> letter.
LOOKALIKE_SEQUENCES: dict[str, str] = {"rn": "m", "vv": "w", "cl": "d", "ii": "u", "nn": "m"}
#: Letters from other scripts that look like Latin ones (a UTS #39-style skeleton, small table).
CONFUSABLES: dict[str, str] = {
    "а": "a", "е": "e", "о": "o", "р": "p", "с": "c", "х": "x", "у": "y", "і": "i", "ј": "j", "ѕ": "s",
    "к": "k", "м": "m", "т": "t", "в": "b", "н": "h", "ο": "o", "α": "a", "ν": "v", "ι": "i", "κ": "k",
    "τ": "t", "ρ": "p", "ε": "e", "υ": "u",
}
#: OCR confidence below which a 2-3 letter read is treated as noise (short names hide in textures).
SHORT_NAME_MIN_CONFIDENCE = 0.6
#: Zipf frequency at or above which a token is an ordinary word, not an imitation.
COMMON_WORD_ZIPF = 3.0
_SEPARATORS = re.compile(r"[\s.\-_·•*'’`,:;/\\]+")
_KEEP = re.compile(r"[^0-9a-z|!@$]")


def fold(text: str) -> str:
    """Unicode-normalise (fullwidth -> ASCII), lower-case and map cross-script confusables."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return "".join(CONFUSABLES.get(ch, ch) for ch in text)


def squeeze(text: str) -> str:
    """Fold and drop separators: the string an imitation is compared on."""
    return _KEEP.sub("", _SEPARATORS.sub("", fold(text)))


@dataclass(frozen=True)
class _Name:
    brand: str
    display: str
    key: str  # squeezed letters and digits


class BrandCatalog:
    """Names and aliases of the gallery's brands, ready for matching."""

    def __init__(self, brands: Iterable[Brand]) -> None:
        self.names: list[_Name] = []
        for brand in brands:
            for name in dict.fromkeys((brand.name, *brand.aliases, brand.id)):
                key = squeeze(name)
                if key:
                    self.names.append(_Name(brand.id, name, key))
        self._by_key = {n.key: n for n in self.names}

    def exact(self, text: str) -> _Name | None:
        """The brand name spelled exactly (case and surrounding punctuation aside), or None.

        Deliberately no Unicode folding here: "ａｄｉｄａｓ" (fullwidth) is an imitation, not a mention."""
        plain = " ".join(text.casefold().split()).strip(" .,:;!?'\"()[]")
        for name in self.names:
            if plain == " ".join(name.display.casefold().split()):
                return name
        return None

    def by_key(self, key: str) -> _Name | None:
        return self._by_key.get(key)


@lru_cache(maxsize=65536)
def _is_common_word(word: str) -> bool:
    from wordfreq import zipf_frequency

    return zipf_frequency(word, "en") >= COMMON_WORD_ZIPF


def _undo_sequences(key: str) -> str:
    for sequence, letter in LOOKALIKE_SEQUENCES.items():
        key = key.replace(sequence, letter)
    return key


def _is_lookalike(brand_char: str, text_char: str) -> bool:
    return LOOKALIKE_CHARS.get(text_char) == brand_char or frozenset((brand_char, text_char)) in LOOKALIKE_LETTERS


def align(text: str, brand: str) -> tuple[float, list[str], str]:
    """Weighted Damerau-Levenshtein alignment of `text` onto `brand`.

    Returns (cost, changes, kind): look-alike substitutions cost 0.25, other edits 1. The
    changes read like "look-alike d->b" (brand letter -> what the text shows).
    """
    n, m = len(text), len(brand)
    cost = [[0.0] * (m + 1) for _ in range(n + 1)]
    for i in range(1, n + 1):
        cost[i][0] = float(i)
    for j in range(1, m + 1):
        cost[0][j] = float(j)
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            t, b = text[i - 1], brand[j - 1]
            sub = 0.0 if t == b else (0.25 if _is_lookalike(b, t) else 1.0)
            best = min(cost[i - 1][j - 1] + sub, cost[i - 1][j] + 1.0, cost[i][j - 1] + 1.0)
            if i > 1 and j > 1 and t == brand[j - 2] and text[i - 2] == b and t != b:
                best = min(best, cost[i - 2][j - 2] + 1.0)
            cost[i][j] = best
    changes: list[str] = []
    kinds: list[str] = []
    i, j = n, m
    while i > 0 or j > 0:
        here = cost[i][j]
        if i > 0 and j > 0:
            t, b = text[i - 1], brand[j - 1]
            sub = 0.0 if t == b else (0.25 if _is_lookalike(b, t) else 1.0)
            if abs(cost[i - 1][j - 1] + sub - here) < 1e-9:
                if sub == 0.25:
                    changes.append(f"look-alike {b}->{t}")
                    kinds.append("look-alike")
                elif sub == 1.0:
                    changes.append(f"substitution {b}->{t}")
                    kinds.append("substitution")
                i, j = i - 1, j - 1
                continue
            if (
                i > 1 and j > 1 and t == brand[j - 2] and text[i - 2] == b and t != b
                and abs(cost[i - 2][j - 2] + 1.0 - here) < 1e-9
            ):
                changes.append(f"transposition {brand[j - 2]}{b}->{text[i - 2]}{t}")
                kinds.append("transposition")
                i, j = i - 2, j - 2
                continue
        if i > 0 and abs(cost[i - 1][j] + 1.0 - here) < 1e-9:
            kind = "repetition" if (j > 0 and text[i - 1] == brand[j - 1]) or (j < m and text[i - 1] == brand[j]) else "insertion"
            changes.append(f"{kind} of '{text[i - 1]}'")
            kinds.append(kind)
            i -= 1
        else:
            changes.append(f"omission of '{brand[j - 1]}'")
            kinds.append("omission")
            j -= 1
    changes.reverse()
    kind = kinds[0] if len(set(kinds)) == 1 else ("look-alike" if set(kinds) == {"look-alike"} else "mixed")
    return cost[n][m], changes, kind


def match_imitation(raw: str, catalog: BrandCatalog) -> AlteredName | None:
    """If `raw` imitates a catalogue brand without spelling it, describe how; else None."""
    if catalog.exact(raw):
        return None
    key = squeeze(raw)
    if len(key) < 2:
        return None
    same_letters = catalog.by_key(key)
    if same_letters:  # e.g. "A.D.I.D.A.S": never read a real name as imitating some other brand
        return _compare(raw, key, same_letters)
    best: AlteredName | None = None
    for name in catalog.names:
        found = _compare(raw, key, name)
        if found and (best is None or found.score > best.score):
            best = found
    return best


def _compare(raw: str, key: str, name: _Name) -> AlteredName | None:
    brand_key = name.key
    if key == brand_key:
        # Same letters, so the spelling game is in separators or scripts: "ADI DAS", "A.D.I.D.A.S", "аdidas".
        if any(ch in CONFUSABLES or unicodedata.normalize("NFKC", ch) != ch for ch in raw.casefold()):
            return AlteredName(raw, name.brand, "confusable", ["characters from another script"], 0.95)
        return AlteredName(raw, name.brand, "separators", ["separators inside the name"], 0.9)
    if abs(len(key) - len(brand_key)) > 2:
        return None
    undone = _undo_sequences(key)
    if undone == brand_key:
        sequences = [f"look-alike {letter}->{seq}" for seq, letter in LOOKALIKE_SEQUENCES.items() if seq in key]
        return AlteredName(raw, name.brand, "look-alike", sequences, 0.95)
    cost, changes, kind = align(key, brand_key)
    lookalike_only = all(c.startswith("look-alike") for c in changes)
    short = len(brand_key) <= 3
    if lookalike_only and (not short or len(changes) == 1) and len(changes) <= max(1, len(brand_key) // 2):
        pass  # every difference is a character that passes for the brand's
    elif short or len(brand_key) <= 4 or cost > 1.0:
        return None
    if key.isalpha() and _is_common_word(key):
        return None  # an ordinary word (Nice, Deal, Pure), not an imitation
    score = max(0.0, 1.0 - cost / len(brand_key))
    return AlteredName(raw, name.brand, kind, changes, round(score, 4))


def match_tokens(tokens: Sequence[OcrToken], catalog: BrandCatalog) -> tuple[list[BrandMention], list[AlteredName]]:
    """Brand mentions and imitations among OCR tokens, also across 2-3 neighbouring tokens."""
    mentions: list[BrandMention] = []
    altered: list[AlteredName] = []
    seen: set[tuple[str, ...]] = set()
    for text, confidence in _candidates(tokens):
        if len(squeeze(text)) <= 3 and confidence < SHORT_NAME_MIN_CONFIDENCE:
            continue
        exact = catalog.exact(text)
        if exact:
            if ("mention", exact.brand) not in seen:
                seen.add(("mention", exact.brand))
                mentions.append(BrandMention(text, exact.brand, confidence))
            continue
        found = match_imitation(text, catalog)
        if found and ("altered", found.brand, text) not in seen:
            seen.add(("altered", found.brand, text))
            altered.append(found)
    mentioned = {m.brand for m in mentions}
    # A split that only re-reads a correctly spelled mention ("New" + "Balance") is not an imitation.
    altered = [a for a in altered if not (a.kind == "separators" and a.brand in mentioned)]
    return mentions, altered


def _candidates(tokens: Sequence[OcrToken]) -> Iterable[tuple[str, float]]:
    """Each token, then runs of 2-3 tokens on the same text line, in reading order."""
    ordered = sorted(tokens, key=lambda t: ((t.box[1] + t.box[3]) / 2, t.box[0]))
    for token in ordered:
        yield token.text, token.confidence
    for size in (2, 3):
        for start in range(len(ordered) - size + 1):
            run = ordered[start : start + size]
            if _same_line(run):
                yield " ".join(t.text for t in run), min(t.confidence for t in run)


def _same_line(run: Sequence[OcrToken]) -> bool:
    heights = [t.box[3] - t.box[1] for t in run]
    centres = [(t.box[1] + t.box[3]) / 2 for t in run]
    gaps = [run[k + 1].box[0] - run[k].box[2] for k in range(len(run) - 1)]
    tall = max(max(heights), 1)
    return max(centres) - min(centres) < 0.5 * tall and all(-0.5 * tall < g < 1.5 * tall for g in gaps)
