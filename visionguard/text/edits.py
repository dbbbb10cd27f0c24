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


def _substitution(brand_char: str, text_char: str) -> tuple[float, str]:
    if brand_char == text_char:
        return 0.0, ""
    if is_lookalike(brand_char, text_char):
        return LOOKALIKE_COST, "look-alike"
    if brand_char in VOWELS and text_char in VOWELS:
        return TYPO_COST, "vowel swap"
    if keyboard_neighbours(brand_char, text_char):
        return TYPO_COST, "keyboard substitution"
    return TYPO_COST, "substitution"


def align(text: str, brand: str) -> Alignment:
    """Cheapest way to turn `brand` into `text` (both keys), with the edits it took."""
    n, m = len(text), len(brand)
    inf = float("inf")
    cost = [[inf] * (m + 1) for _ in range(n + 1)]
    step: list[list[tuple[int, int, tuple[str, str, str] | None]]] = [[(0, 0, None)] * (m + 1) for _ in range(n + 1)]
    cost[0][0] = 0.0
    for i in range(n + 1):
        for j in range(m + 1):
            here = cost[i][j]
            if here == inf:
                continue
            t = text[i] if i < n else ""
            b = brand[j] if j < m else ""
            options: list[tuple[float, int, int, tuple[str, str, str] | None]] = []
            if t and b:
                price, kind = _substitution(b, t)
                options.append((price, 1, 1, (kind, b, t) if kind else None))
            if t:  # the text has an extra character
                repeated = (i > 0 and text[i - 1] == t) or (i + 1 < n and text[i + 1] == t and t == b)
                options.append((TYPO_COST, 1, 0, ("repetition" if repeated else "insertion", "", t)))
            if b:  # the text lacks one of the brand's characters
                options.append((TYPO_COST, 0, 1, ("omission", b, "")))
            if i + 1 < n and j + 1 < m and t != b and text[i] == brand[j + 1] and text[i + 1] == brand[j]:
                options.append((TYPO_COST, 2, 2, ("transposition", brand[j : j + 2], text[i : i + 2])))
            if i + 1 < n and b and LOOKALIKE_SEQUENCES.get(text[i : i + 2]) == b:
                options.append((LOOKALIKE_COST, 2, 1, ("look-alike", b, text[i : i + 2])))
            for price, di, dj, edit in options:
                total = here + price
                if total < cost[i + di][j + dj] - 1e-9:
                    cost[i + di][j + dj] = total
                    step[i + di][j + dj] = (i, j, edit)
    edits: list[Edit] = []
    i, j = n, m
    while i or j:
        pi, pj, edit = step[i][j]
        if edit is not None:
            edits.append(Edit(*edit))
        i, j = pi, pj
    edits.reverse()
    return Alignment(cost[n][m], tuple(edits))
