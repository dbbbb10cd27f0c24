"""How a text differs from a brand name: a weighted Damerau-Levenshtein alignment whose edits
are named the way a reviewer thinks of them ("look-alike d->b", "transposition", "vowel swap").

Look-alikes cost little (they are what counterfeiters use and what OCR produces); typos cost one.
"""

from __future__ import annotations

from dataclasses import dataclass

from visionguard.text.lookalikes import LOOKALIKE_SEQUENCES, is_lookalike

LOOKALIKE_COST = 0.25
TYPO_COST = 1.0
VOWELS = frozenset("aeiouy")
_QWERTY = ("1234567890", "qwertyuiop", "asdfghjkl", "zxcvbnm")
_KEY_POSITION = {ch: (row, col + 0.5 * row) for row, keys in enumerate(_QWERTY) for col, ch in enumerate(keys)}


def keyboard_neighbours(a: str, b: str) -> bool:
    pa, pb = _KEY_POSITION.get(a), _KEY_POSITION.get(b)
    return pa is not None and pb is not None and abs(pa[0] - pb[0]) <= 1 and abs(pa[1] - pb[1]) <= 1.0


@dataclass(frozen=True)
class Edit:
    """One difference: `brand` is what the name has, `text` what the text shows instead."""

    kind: str  # look-alike, keyboard substitution, vowel swap, substitution, omission, insertion, repetition, transposition
    brand: str
    text: str

    @property
    def is_lookalike(self) -> bool:
        return self.kind == "look-alike"

    def describe(self) -> str:
        if self.kind == "omission":
            return f"omission of '{self.brand}'"
        if self.kind in ("insertion", "repetition"):
            return f"{self.kind} of '{self.text}'"
        return f"{self.kind} {self.brand}->{self.text}"


@dataclass(frozen=True)
class Alignment:
    cost: float
    edits: tuple[Edit, ...]

    @property
    def typos(self) -> int:
        return sum(1 for e in self.edits if not e.is_lookalike)

    @property
    def lookalikes(self) -> int:
        return sum(1 for e in self.edits if e.is_lookalike)

    @property
    def kind(self) -> str:
        kinds = {e.kind for e in self.edits}
        return kinds.pop() if len(kinds) == 1 else "mixed"


def _classify_substitution(brand_char: str, text_char: str) -> tuple[float, str]:
    if brand_char == text_char:
        return 0.0, ""
    if is_lookalike(brand_char, text_char):
        return LOOKALIKE_COST, "look-alike"
    if brand_char in VOWELS and text_char in VOWELS:
        return TYPO_COST, "vowel swap"
    if keyboard_neighbours(brand_char, text_char):
        return TYPO_COST, "keyboard substitution"
    return TYPO_COST, "substitution"


_SUBSTITUTIONS: dict[tuple[str, str], tuple[float, str]] = {}


def _substitution(brand_char: str, text_char: str) -> tuple[float, str]:
    pair = (brand_char, text_char)
    found = _SUBSTITUTIONS.get(pair)
    if found is None:
        found = _SUBSTITUTIONS[pair] = _classify_substitution(brand_char, text_char)
    return found


def align(text: str, brand: str) -> Alignment:
    """Cheapest way to turn `brand` into `text` (both keys), with the edits it took."""
    n, m = len(text), len(brand)
    known = _SUBSTITUTIONS
    cost = [[0.0] * (m + 1) for _ in range(n + 1)]
    for j in range(1, m + 1):
        cost[0][j] = j * TYPO_COST
    for i in range(1, n + 1):
        t = text[i - 1]
        row, above = cost[i], cost[i - 1]
        row[0] = i * TYPO_COST
        sequence_letter = LOOKALIKE_SEQUENCES.get(text[i - 2 : i]) if i > 1 else None
        for j in range(1, m + 1):
            b = brand[j - 1]
            if t == b:
                best = above[j - 1]
            else:
                found = known.get((b, t)) or _substitution(b, t)
                best = above[j - 1] + found[0]
            if above[j] + TYPO_COST < best:
                best = above[j] + TYPO_COST
            if row[j - 1] + TYPO_COST < best:
                best = row[j - 1] + TYPO_COST
            if i > 1 and j > 1 and t != b and t == brand[j - 2] and text[i - 2] == b and cost[i - 2][j - 2] + TYPO_COST < best:
                best = cost[i - 2][j - 2] + TYPO_COST
            if sequence_letter == b and cost[i - 2][j - 1] + LOOKALIKE_COST < best:
                best = cost[i - 2][j - 1] + LOOKALIKE_COST
            row[j] = best
    return Alignment(cost[n][m], tuple(_backtrack(text, brand, cost)))


def _backtrack(text: str, brand: str, cost: list[list[float]]) -> list[Edit]:
    """Recover the edits along one cheapest path, preferring look-alikes, then typos in reading order."""
    edits: list[Edit] = []
    i, j = len(text), len(brand)

    def same(a: float, b: float) -> bool:
        return abs(a - b) < 1e-9

    while i or j:
        here = cost[i][j]
        t = text[i - 1] if i else ""
        b = brand[j - 1] if j else ""
        if i and j:
            price, kind = _substitution(b, t)
            if same(cost[i - 1][j - 1] + price, here):
                if kind:
                    edits.append(Edit(kind, b, t))
                i, j = i - 1, j - 1
                continue
            if i > 1 and LOOKALIKE_SEQUENCES.get(text[i - 2 : i]) == b and same(cost[i - 2][j - 1] + LOOKALIKE_COST, here):
                edits.append(Edit("look-alike", b, text[i - 2 : i]))
                i, j = i - 2, j - 1
                continue
            if (
                i > 1 and j > 1 and t != b and t == brand[j - 2] and text[i - 2] == b
                and same(cost[i - 2][j - 2] + TYPO_COST, here)
            ):
                edits.append(Edit("transposition", brand[j - 2 : j], text[i - 2 : i]))
                i, j = i - 2, j - 2
                continue
        if i and same(cost[i - 1][j] + TYPO_COST, here):
            repeated = (i > 1 and text[i - 2] == t) or (i < len(text) and text[i] == t)
            edits.append(Edit("repetition" if repeated else "insertion", "", t))
            i -= 1
        else:
            edits.append(Edit("omission", b, ""))
            j -= 1
    edits.reverse()
    return edits
