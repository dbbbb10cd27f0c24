"""The brand names text is matched against: the gallery's brands (the targets) and the bundled
list of other real brands (which must never be flagged), with a fast candidate index.

Candidates come from a deletion neighbourhood (SymSpell) over coarse keys, in which look-alike
characters share one symbol: "4D1D45", "ADIBAS" and "adidas" all reach "adidas" with a few dict
lookups instead of an edit distance against every name.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Iterable

from rapidfuzz.distance import OSA

from visionguard.gallery import Brand
from visionguard.text.lookalikes import LOOKALIKE_SEQUENCES, coarse
from visionguard.text.normalize import key, plain, separator_gaps
from visionguard.text.words import known_brand_names

#: Brand keys up to this long are matched exactly or by look-alikes only, never by typos.
SHORT_NAME = 3


@dataclass(frozen=True)
class BrandName:
    """One spelling of a brand. `brand` is the gallery brand id, or None for other real brands."""

    brand: str | None
    display: str
    plain: str
    key: str
    coarse: str  # key with look-alike characters merged, for candidate lookup
    gaps: frozenset[int]

    @property
    def is_target(self) -> bool:
        return self.brand is not None


def _deletes(text: str, depth: int) -> set[str]:
    """The text and every string made by deleting up to `depth` of its characters (keeping one)."""
    found = {text}
    layer = {text}
    for _ in range(depth):
        layer = {word[:i] + word[i + 1 :] for word in layer if len(word) > 1 for i in range(len(word))}
        found |= layer
    return found


def _index_depth(length: int) -> int:
    return 0 if length <= SHORT_NAME else (1 if length <= 7 else 2)


class BrandCatalog:
    """Names and aliases of the target brands plus the bundled real-brand list."""

    def __init__(self, brands: Iterable[Brand], other_brands: Iterable[str] | None = None) -> None:
        self.brands = list(brands)
        self.names: list[BrandName] = []
        for brand in self.brands:
            for name in dict.fromkeys((brand.name, *brand.aliases, brand.id)):
                self._add(brand.id, name)
        target_plains = {n.plain for n in self.names}
        target_keys = {n.key for n in self.names}
        for name in known_brand_names() if other_brands is None else other_brands:
            if plain(name) not in target_plains and key(name) not in target_keys:
                self._add(None, name)
        self._by_plain = {n.plain: n for n in reversed(self.names)}  # targets win on a tie
        self._by_key: dict[str, list[BrandName]] = defaultdict(list)
        self._by_brand: dict[str, list[BrandName]] = defaultdict(list)
        self._neighbourhood: dict[str, list[BrandName]] = defaultdict(list)
        self._targets_by_coarse: dict[str, list[BrandName]] = defaultdict(list)
        for name in self.names:
            self._by_key[name.key].append(name)
            if name.brand is not None:
                self._by_brand[name.brand].append(name)
            for deleted in _deletes(name.coarse, _index_depth(len(name.key))):
                self._neighbourhood[deleted].append(name)
            if name.is_target and len(name.key) >= SHORT_NAME:
                self._targets_by_coarse[name.coarse].append(name)
        self.target_lengths = sorted({len(k) for k in self._targets_by_coarse}, reverse=True)
        #: No neighbourhood entry is longer: a text key longer than this plus the deletions a
        #: lookup makes reaches no name (and its deletions alone would take memory quadratic
        #: in its length: a 10,000-character OCR line needs gigabytes).
        self.longest_coarse = max((len(n.coarse) for n in self.names), default=0)

    def _add(self, brand: str | None, name: str) -> None:
        name_key = key(name)
        if name_key:
            self.names.append(BrandName(brand, name, plain(name), name_key, coarse(name_key), separator_gaps(name)))

    def exact(self, text: str) -> BrandName | None:
        """The name spelled exactly, case, accents and surrounding punctuation aside."""
        return self._by_plain.get(plain(text))

    def by_key(self, text_key: str) -> list[BrandName]:
        """Names with exactly these key letters ("A.D.I.D.A.S", "аdidas" and "adidas" share one)."""
        return self._by_key.get(text_key, [])

    def spellings(self, brand: str) -> list[BrandName]:
        """The name and aliases of one target brand."""
        return self._by_brand.get(brand, [])

    def candidates(self, text_key: str) -> list[tuple[int, BrandName]]:
        """Names within a couple of edits of the key, nearest first, with their edit distance on
        coarse keys (look-alike characters and sequences counting as equal); names at the same
        distance in alphabetical order, so that a tie is decided the same way in every process
        (in set order, "DOLF" was Dove's imitation under some PYTHONHASHSEEDs and nothing under others)."""
        depth = 1 if len(text_key) <= 6 else 2
        distances: dict[BrandName, int] = {}
        for variant in _sequence_variants(text_key):
            if len(variant) - depth > self.longest_coarse:
                continue  # every deletion of it is longer than every indexed name
            rough = coarse(variant)
            for deleted in _deletes(rough, depth):
                for name in self._neighbourhood.get(deleted, ()):
                    distance = OSA.distance(rough, name.coarse)
                    if distance < distances.get(name, 99):
                        distances[name] = distance
        return sorted(((d, n) for n, d in distances.items()), key=lambda pair: (pair[0], pair[1].key, pair[1].brand))

    def targets_with_coarse_key(self, coarse_key: str) -> list[BrandName]:
        return self._targets_by_coarse.get(coarse_key, [])


def _sequence_variants(text_key: str) -> list[str]:
    """The key, plus the key with look-alike sequences undone ("sarnsung" -> "samsung")."""
    variants = [text_key]
    undone = text_key
    for sequence, letter in LOOKALIKE_SEQUENCES.items():
        if sequence in undone:
            undone = undone.replace(sequence, letter)
    if undone != text_key:
        variants.append(undone)
    return variants
