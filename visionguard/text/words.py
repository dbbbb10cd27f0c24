"""What honest text looks like: English word frequencies (`wordfreq`) and a bundled list of
real brand names, so that Nice is not Nike and Nikon is not Nike either."""

from __future__ import annotations

import math
from functools import lru_cache
from importlib import resources

#: Zipf frequency at or above which a word is ordinary English, never an imitation
#: ("goggle" 2.4, "pima" 2.7 are words; "adibas" scores 0, the common misspelling "addidas" 1.4).
HONEST_WORD_ZIPF = 2.0
#: A remainder glued to a brand ("NIKEshoes") must be at least this common to count as a word.
GLUED_WORD_ZIPF = 2.5  # "tshirt" is 2.7


@lru_cache(maxsize=1)
def _frequencies() -> dict[str, float]:
    from wordfreq import get_frequency_dict

    return get_frequency_dict("en", wordlist="best")


def word_zipf(word: str) -> float:
    """Zipf frequency of a lower-case English word (0 for words wordfreq has never seen)."""
    frequency = _frequencies().get(word)
    return math.log10(frequency) + 9.0 if frequency else 0.0


@lru_cache(maxsize=1)
def known_brand_names() -> tuple[str, ...]:
    """Real brand names bundled with the package (simple-icons titles and well-known consumer brands)."""
    names: list[str] = []
    folder = resources.files("visionguard") / "assets" / "brands"
    for filename in ("simple_icons.txt", "consumer_brands.txt"):
        for line in (folder / filename).read_text(encoding="utf-8").splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                names.append(line)
    return tuple(names)
