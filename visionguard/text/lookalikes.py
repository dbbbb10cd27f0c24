"""Which characters pass for which: our print/OCR confusion table and the cross-script skeleton.

Domain-typo tools know homoglyphs (Cyrillic а for Latin a) but not what print and OCR confuse
(E read as F, Q for G, rn for m), so the Latin table is ours. Cross-script confusables come from
Unicode's confusables data (UTS #39) as shipped by `confusable-homoglyphs`.
"""

from __future__ import annotations

import json
import unicodedata
from functools import lru_cache
from importlib import resources

#: Digits and symbols that print like a letter: text character -> the letters it passes for.
PRINT_LOOKALIKES: dict[str, str] = {
    "0": "o", "1": "il", "|": "il", "!": "il", "3": "e", "4": "a", "@": "a", "5": "s", "$": "s",
    "6": "gb", "8": "b", "9": "gq", "7": "t", "2": "z", "€": "e", "£": "e", "¡": "i",
}
#: Letter pairs that print or OCR alike (either direction): d/b, i/l, E/F, Q/G, u/v, c/e, ...
LOOKALIKE_PAIRS: frozenset[frozenset[str]] = frozenset(
    frozenset(pair)
    for pair in ("bd", "il", "ij", "lt", "ef", "gq", "uv", "ce", "co", "oq", "mn", "nh", "pq", "vy", "ft")
)
#: Letter sequences that pass for one letter: text sequence -> the brand letter.
LOOKALIKE_SEQUENCES: dict[str, str] = {"rn": "m", "vv": "w", "cl": "d", "nn": "m", "ii": "u"}
#: Characters kept in a matching key besides a-z and 0-9: symbols that pass for letters.
KEY_SYMBOLS = frozenset("|!@$€£¡")

#: Coarse classes for candidate lookup: every member maps to the first one, so "4D1D45" and
#: "adidas" share a coarse key. Only unambiguous groups: the rest is left to edit distance.
_COARSE_GROUPS = ("bd86", "il1|!j¡", "ef3€£", "gq9", "uv", "o0", "s5$", "a4@", "z2", "t7")
COARSE: dict[str, str] = {ch: group[0] for group in _COARSE_GROUPS for ch in group}


def is_lookalike(brand_char: str, text_char: str) -> bool:
    """Does `text_char` (folded) pass for the brand's letter `brand_char`?"""
    return brand_char in PRINT_LOOKALIKES.get(text_char, "") or frozenset((brand_char, text_char)) in LOOKALIKE_PAIRS


def coarse(key: str) -> str:
    return "".join(COARSE.get(ch, ch) for ch in key)


@lru_cache(maxsize=1)
def cross_script_map() -> dict[str, str]:
    """Non-ASCII character -> the ASCII letter or digit it is confusable with (Unicode UTS #39 data)."""
    data = json.loads((resources.files("confusable_homoglyphs") / "confusables.json").read_text(encoding="utf-8"))
    table: dict[str, str] = {}
    for char, entries in data.items():
        if len(char) != 1 or char.isascii():
            continue
        targets = [e.get("c", "") for e in entries]
        targets = [t for t in targets if len(t) == 1 and t.isascii() and t.isalnum()]
        if targets:
            # Prefer a letter of the same case (Cyrillic "І" is an I, though it also looks like l).
            ranked = sorted(targets, key=lambda t: (not t.isalpha(), t.isupper() != char.isupper()))
            table[char] = ranked[0].lower()
    # Small capitals ("ɴɪᴋᴇ", from "fancy text" generators), which the data mostly leaves out.
    for block in (range(0x0250, 0x02B0), range(0x1D00, 0x1D80), range(0xA720, 0xA800)):
        for code in block:
            name = unicodedata.name(chr(code), "")
            if name.startswith("LATIN LETTER SMALL CAPITAL ") and len(name) == len("LATIN LETTER SMALL CAPITAL X"):
                table.setdefault(chr(code), name[-1].lower())
    # Cases the data spreads over several entries or lists only one way round.
    table.update({"І": "i", "ı": "i", "ɑ": "a", "ꞵ": "b", "ο": "o", "σ": "o", "ν": "v", "κ": "k", "τ": "t", "ε": "e", "υ": "u"})
    return table


def is_foreign(char: str) -> bool:
    """A character from another script or a compatibility form (fullwidth) that imitates ASCII."""
    if char.isascii():
        return False
    if unicodedata.normalize("NFKC", char) != char:
        return True
    table = cross_script_map()
    return char in table or char.casefold() in table
