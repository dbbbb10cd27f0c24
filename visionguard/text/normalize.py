"""The forms a piece of text is compared in.

- `plain`: how a person would spell-check it: case and accents ignored, nothing else (so a
  fullwidth or Cyrillic letter still differs from its Latin look-alike).
- `skeleton`: what it looks like: compatibility forms folded (fullwidth -> ASCII), other scripts
  mapped to the Latin letter they imitate, accents dropped.
- `key`: the skeleton without separators; imitations are matched on keys.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from visionguard.text.lookalikes import KEY_SYMBOLS, cross_script_map

_EDGE_PUNCTUATION = " .,:;!?'\"()[]{}<>«»“”‘’*#"


def _strip_accents(text: str) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFD", text) if not unicodedata.combining(ch))


def plain(text: str) -> str:
    """Case-, accent- and spacing-insensitive spelling: "  NIKE! " -> "nike", "Hermès" -> "hermes"."""
    if text.isascii():
        return " ".join(text.lower().split()).strip(_EDGE_PUNCTUATION)
    return " ".join(_strip_accents(text.casefold()).split()).strip(_EDGE_PUNCTUATION)


@lru_cache(maxsize=131072)
def skeleton(text: str) -> str:
    """What the text looks like in Latin letters: "ＡＤＩＤＡＳ" -> "adidas", "аdidas" -> "adidas"."""
    if text.isascii():
        return text.lower()
    table = cross_script_map()
    mapped = (table.get(ch) or table.get(ch.casefold()) or ch.casefold() for ch in unicodedata.normalize("NFKC", text))
    return _strip_accents("".join(mapped))


def is_key_char(char: str) -> bool:
    return ("a" <= char <= "z") or ("0" <= char <= "9") or char in KEY_SYMBOLS


_ASCII_NOT_KEY = re.compile(r"[^a-z0-9|!@$]")


def key(text: str) -> str:
    """Skeleton letters, digits and look-alike symbols only: "A.D.I.D.A.S" -> "adidas", "N1KE" -> "n1ke"."""
    if text.isascii():
        return _ASCII_NOT_KEY.sub("", text.lower())
    return "".join(ch for ch in skeleton(text) if is_key_char(ch))


def separator_gaps(text: str) -> frozenset[int]:
    """Key positions that a separator precedes: "ADI DAS" -> {3}. Leading/trailing ones are ignored."""
    gaps: set[int] = set()
    count = 0
    pending = False
    for ch in skeleton(text):
        if is_key_char(ch):
            if pending and count:
                gaps.add(count)
            pending = False
            count += 1
        else:
            pending = True
    return frozenset(gaps)
