"""Decide, for a piece of listing text, whether it names a brand, imitates one, or is honest.

Order of questions, cheapest first:
1. Spelled exactly like a target brand (case and accents aside)? A mention, unless the OCR's
   per-character evidence shows a look-alike it "corrected" (SAM5UNG read as SAMSUNG), or a
   stray capital inside a lower-case word betrays one ("Ne5café" read as "NeScafe").
   Spelled like another real brand (Nikon)? Honest.
2. Same letters as a brand but other scripts or separators inside ("аdidas", "ADI DAS")? Imitation.
3. An ordinary English word (Nice, Deal, Pure)? Honest.
4. Close to a brand by look-alikes or a few typos, and closer to it than to any other real
   brand? Imitation, with each change named. Short names (2-3 letters) take look-alikes only.
5. A brand glued to an ordinary word ("NIKEshoes")? Imitation.
Imitations read in a photo then go to a second, independently trained OCR reader
(`confirm_altered`): where it reads the genuine name, the first reader slipped.
"""

from __future__ import annotations

import re
from collections import Counter, OrderedDict
from dataclasses import dataclass
from itertools import groupby
from typing import Callable, Iterable, Sequence

from visionguard.results import AlteredName, BrandMention, OcrToken
from visionguard.text.catalog import SHORT_NAME, BrandCatalog, BrandName
from visionguard.text.edits import Alignment, align
from visionguard.text.lookalikes import LOOKALIKE_PAIRS, LOOKALIKE_SEQUENCES, PRINT_LOOKALIKES, coarse, is_foreign, is_lookalike
from visionguard.text.normalize import key as text_key
from visionguard.text.normalize import is_key_char, separator_gaps, skeleton
from visionguard.text.words import GLUED_WORD_ZIPF, HONEST_WORD_ZIPF, word_zipf

#: OCR confidence below which a 2-3 letter read is treated as noise (short names hide in textures).
SHORT_NAME_MIN_CONFIDENCE = 0.6
#: Probability the recogniser must give a look-alike digit or symbol at a character of a correctly
#: read brand name before that read counts as a possible "corrected" imitation.
OCR_EVIDENCE_MIN = 0.2
#: OCR confidence below which an imitation made only of typos is taken for the OCR's own misread.
TYPO_MIN_CONFIDENCE = 0.45
#: A second reader's confidence needed to withdraw an imitation (its genuine-name reads of
#: misread wordmarks on the bench scored 0.92-0.99).
SECOND_READING_MIN_CONFIDENCE = 0.8
#: A glued word ("NIKEshoes") is only an imitation when the whole token is not itself a word.
_GLUED_TOKEN_MAX_ZIPF = 1.5
_CACHE_SIZE = 65536


def typo_budget(length: int) -> int:
    """How many typos (not look-alikes) a brand name of this length may carry and still be recognised."""
    return 0 if length <= SHORT_NAME else (1 if length <= 7 else 2)


def lookalike_budget(length: int) -> int:
    return 1 if length <= SHORT_NAME else max(1, round(0.6 * length))


@dataclass(frozen=True)
class _Candidate:
    name: BrandName
    alignment: Alignment


class TextMatcher:
    """Matches OCR text against a `BrandCatalog`; results for repeated strings are cached."""

    def __init__(self, catalog: BrandCatalog, honest_word_zipf: float = HONEST_WORD_ZIPF) -> None:
        self.catalog = catalog
        self.honest_word_zipf = honest_word_zipf
        self._cache: OrderedDict[str, BrandMention | AlteredName | None] = OrderedDict()
        self._target_patterns: list[re.Pattern[str]] | None = None  # built on first use (`_spelled_like_a_target`)

    # -- one string -------------------------------------------------------------------------
    def match_text(self, text: str, confidence: float = 1.0) -> BrandMention | AlteredName | None:
        """A mention of a target brand, an imitation of one, or None for honest text.

        The whole text is read as one name: a title of several words is not searched word by
        word ("GUCCl bag" -> None, "ADI DAS" -> an imitation by separators). `match_tokens` does
        that, and reads each of its runs of words with this; to match a title, pass it as one
        token: `match_tokens([OcrToken(title, 1.0, (0, 0, 0, 0))])` (any box)."""
        found = self._cache.get(text, ...)
        if found is ...:
            found = self._match(text)
            self._cache[text] = found
            if len(self._cache) > _CACHE_SIZE:
                self._cache.popitem(last=False)
        if found is None:
            return None
        if isinstance(found, BrandMention):
            return BrandMention(found.text, found.brand, confidence)
        return AlteredName(found.text, found.brand, found.kind, list(found.changes), found.score)

    def _match(self, text: str) -> BrandMention | AlteredName | None:
        exact = self.catalog.exact(text)
        if exact is None and text.startswith("@"):  # a handle ("@nike", as "#nike"), not "a" + "nike"; "@didas" stays a look-alike
            exact = self.catalog.exact(text[1:])
        if exact is not None:
            return BrandMention(text, exact.brand, 1.0) if exact.is_target else None
        key = text_key(text)
        if len(key) < 2:
            return None
        same_letters = self.catalog.by_key(key)
        if same_letters:
            return self._same_letters(text, same_letters)
        plural = key.endswith("s") and (not key.endswith("ss") or text.rstrip().lower().endswith(("'s", "’s")))  # "Adidas's"
        if plural and any(n.is_target for n in self.catalog.by_key(key[:-1])):
            plural = self._same_letters(text[:-1], self.catalog.by_key(key[:-1]))  # "Nikes", "LEGOS"
            return BrandMention(text, plural.brand, 1.0) if isinstance(plural, BrandMention) else plural
        echo = None if text.isalnum() else self._echo(text)
        if echo is not None:
            return echo
        if key.isalpha() and word_zipf(key) >= self.honest_word_zipf:
            return None
        beside = self._names_beside_words(text, key)
        closest = self._closest(text, key)
        if closest is not None and beside and _insertions_only(closest):
            # "Tesla 3": the name and a word beside it, not the name with a letter inserted
            # (but "Mercedes-Bennz" imitates "Mercedes-Benz", though "Mercedes" is an alias)
            for name in beside:
                if name.brand == closest.brand and closest.changes == [e.describe() for e in align(key, name.key).edits]:
                    return BrandMention(text, name.brand, 1.0)
        found = closest or self._glued(text, key)
        return found if found is not None or not beside else BrandMention(text, beside[0].brand, 1.0)

    def _names_beside_words(self, text: str, key: str) -> list[BrandName]:
        """Targets spelled correctly as the first or last whole words with other words beside
        them ("Tesla 3", "Samsung 5", "2 Nike", "Samsung Galaxy"), longest first."""
        gaps = separator_gaps(text)
        if not gaps or _foreign_chars(text):
            return []
        found = []
        for gap in gaps:
            for start, end in ((0, gap), (gap, len(key))):
                names = [n for n in self.catalog.by_key(key[start:end]) if n.is_target]
                if names:  # (the gaps inside only then: a long line cut up by punctuation has thousands)
                    inner = {g - start for g in gaps if start < g < end}
                    found += [n for n in names if inner <= n.gaps]
        return sorted(found, key=lambda n: -len(n.key))

    def _echo(self, text: str) -> AlteredName | None:
        """The name, a separator, and its own last letters again: "Nike-e", "XML_L", "Gltf.f". Two
        letters after a dot may be the brand's own country domain ("hermes.es", "puma.ma", "bosch.ch",
        "costco.co"), not an echo."""
        head, separator, tail = text.rstrip().rpartition(_last_separator(text))
        if not separator or not head.strip() or not tail.strip():
            return None
        names = [n for n in self.catalog.by_key(text_key(head)) if n.is_target]
        tail_key = text_key(tail)
        if not names or not tail_key or len(tail_key) > 2 or not names[0].key.endswith(tail_key):
            return None
        if separator == "." and len(tail_key) == 2 and tail_key.isalpha():
            return None  # a country code top-level domain (or "co"), as likely as a repetition
        return AlteredName(text, names[0].brand, "repetition", [f"repetition of '{tail_key}' after a separator"], 0.8)

    def _same_letters(self, text: str, names: list[BrandName]) -> BrandMention | AlteredName | None:
        target = next((n for n in names if n.is_target), None)
        if target is None:
            return None  # another real brand, spelled its own way
        foreign = _foreign_chars(text)
        if foreign:
            changes = [f"characters from another script: {', '.join(foreign)}"]
            return AlteredName(text, target.brand, "confusable", changes, 0.95)
        if not separator_gaps(text) <= target.gaps:
            return AlteredName(text, target.brand, "separators", ["separators inside the name"], 0.9)
        return BrandMention(text, target.brand, 1.0)  # "Levis" for "Levi's", "CocaCola"

    def _closest(self, text: str, key: str) -> AlteredName | None:
        # Rank candidates by plain edit distance on coarse keys (C speed), then align the few
        # closest with the weighted, explained alignment.
        ranked = self.catalog.candidates(key)
        best: _Candidate | None = None
        nearest = None
        for distance, name in ranked:
            if not name.is_target or distance > typo_budget(len(name.key)) + 1:
                continue
            if nearest is not None and distance > nearest:
                break
            nearest = distance if nearest is None else nearest
            alignment = align(key, name.key)
            if best is None or alignment.cost < best.alignment.cost:
                best = _Candidate(name, alignment)
        if best is None or not best.alignment.edits:
            return None
        name, alignment = best.name, best.alignment
        length = len(name.key)
        if alignment.typos > typo_budget(length) or alignment.lookalikes > lookalike_budget(length):
            return None
        if alignment.typos and _word_gaps(text) > len(name.gaps):
            return None  # more words than the name has, and typos besides: "at EU" is no "DATEV"
        for distance, other in ranked:
            if distance > nearest:
                break
            if not other.is_target and align(key, other.key).cost < alignment.cost:
                return None  # closer to another real brand (Nikom -> Nikon, not Nike)
        changes = [edit.describe() for edit in alignment.edits]
        kind = alignment.kind
        foreign = _foreign_chars(text)
        if foreign:
            changes.append(f"characters from another script: {', '.join(foreign)}")
            kind = "mixed"
        score = max(0.05, 1.0 - alignment.cost / length)
        return AlteredName(text, name.brand, kind, changes, round(score, 4))

    def _glued(self, text: str, key: str) -> AlteredName | None:
        """A brand name run together with an ordinary word: "NIKEshoes", "adidasoriginals"."""
        if word_zipf(key) >= _GLUED_TOKEN_MAX_ZIPF:
            return None  # a word in its own right ("applesauce")
        gaps = separator_gaps(text)
        rough = coarse(key)
        for length in self.catalog.target_lengths:
            if len(key) - length < 3:
                continue
            for part, rest in ((slice(0, length), key[length:]), (slice(len(key) - length, None), key[:-length])):
                names = self.catalog.targets_with_coarse_key(rough[part])
                if not names or not (rest.isdigit() or word_zipf(rest) >= GLUED_WORD_ZIPF):
                    continue
                start = part.indices(len(key))[0]
                rest_inside = range(length + 1, len(key)) if start == 0 else range(1, start)
                if not gaps <= {start + g for g in names[0].gaps} | set(rest_inside):
                    continue  # separate words ("Highway Dug"), not one glued token
                alignment = align(key[part], names[0].key)
                if alignment.typos or (length <= SHORT_NAME and alignment.edits):
                    continue
                changes = [f"brand name joined to '{rest}'", *(e.describe() for e in alignment.edits)]
                return AlteredName(text, names[0].brand, "embedded", changes, 0.85)
        return None

    # -- OCR tokens ---------------------------------------------------------------------------
    def match_tokens(self, tokens: Sequence[OcrToken]) -> tuple[list[BrandMention], list[AlteredName]]:
        """Brand mentions and imitations among OCR tokens, also across 2-3 neighbouring tokens,
        and inside a token: its words, their pieces between the punctuation of domains, handles
        and compounds ("www.n1ke.shop", "adibas-store"), and words spelled out ("N I K E")."""
        mentions_read: list[tuple[BrandMention, frozenset[int]]] = []  # each mention with the words it was read from
        altered: list[AlteredName] = []
        seen: set[tuple[str, ...]] = set()
        names_read: list[tuple[str, frozenset[int]]] = []  # (brand, words) of readings that spell a name
        pieces: dict[int, frozenset[int]] = {}  # id of an imitation -> the words it was read from
        for run, boxes, words, text, cut in _readings(tokens, self._names_spelled_inside):
            confidence = min(t.confidence for t in run)
            if len(text_key(text)) <= SHORT_NAME and confidence < SHORT_NAME_MIN_CONFIDENCE:
                continue
            found = self.match_text(text, confidence)
            if isinstance(run, _Inner) and isinstance(found, AlteredName) and found.kind == "separators":
                found = BrandMention(text, found.brand, confidence)  # a name's letters among others: no spacing of its own
            if cut and isinstance(found, AlteredName) and self._more_separators_than_the_name(found):
                continue  # where a printed word is cut is no evidence ("costco.co" of "costco.co.uk" is no "Costco-co")
            spelled = isinstance(found, BrandMention) and self._spells(text, found.brand)
            if spelled:  # the name alone, no other words beside it: its characters are the name's
                found = _corrected_lookalike(run, found) or _case_anomaly(run, found, self.catalog) or found
            elif isinstance(found, AlteredName) and confidence < TYPO_MIN_CONFIDENCE and _typos_only(found):
                continue  # a faint read: more likely the OCR's own slip than a printed typo
            if spelled:
                names_read.append((found.brand, words))
            if isinstance(found, BrandMention):
                mentions_read.append((found, words))
            elif isinstance(found, AlteredName) and ("altered", found.brand, text) not in seen:
                seen.add(("altered", found.brand, text))
                found.box = _bounding_box(boxes)
                altered.append(found)
                pieces[id(found)] = words
        mentioned = {m.brand for m, _ in mentions_read}
        # A run that only re-reads a correctly spelled mention ("New" + "Balance") is not an imitation,
        # nor are some of the words of a name spelled correctly ("Resurrection Remix" of "... OS"),
        # and of two readings one inside the other, the one with more typos goes: of one imitation
        # ("N1KE a" beside "N1KE"; "Resurrection Remix", two letters short, inside "Resurrection
        # Remix 0 $"; at a tie the longer; a glued word cut by the OCR, "NIKESHO" + "ES", stays whole),
        # or inside another brand's ("4UDIO" of "4UDIO-TECHNIC4" is no Audi).
        altered = [
            a for a in altered
            if not (a.kind == "separators" and a.brand in mentioned)
            and not any(brand == a.brand and pieces[id(a)] < words for brand, words in names_read)
            and not any(_worse_reading(a, b, pieces) for b in altered)
        ]
        # Nor is a reading that shares words with an imitation of the same brand a mention: it reads
        # the name out of the imitation ("Nike", "genuine Nike", "Nike-e.net" of "genuine Nike-e.net").
        mentions: list[BrandMention] = []
        for found, words in mentions_read:
            inside = any(a.brand == found.brand and words & pieces[id(a)] for a in altered)
            if not inside and found.brand not in {m.brand for m in mentions}:
                mentions.append(found)
        return mentions, altered

    def _names_spelled_inside(self, letters: Sequence[str]) -> list[tuple[int, int]]:
        """Where in a run of characters spelled out one at a time (their texts) a name, or an
        imitation of one by look-alikes or other scripts, is spelled among other words: "S A L E
        N I K F" holds "N I K F" (letters 4-8), "S A L E N I K E" the name (read as a mention).

        Spaced-out letters lose the spaces between words, so the run is cut into pieces the
        likeliest way, as a reader would: ordinary words (a common word costs little, a rare one
        much: `_PIECE_COST` + 9 - its Zipf frequency; other real brands count as rare words),
        numbers, stretches no word explains (dear, and dearer by the letter), and readings of a
        target, each as a word seen once in a billion (`_NAME_COST`, a little more the further it
        is from the name). The readings the cheapest cut takes are returned. Honest spaced-out
        text ("N E W A R R I V A L", "B I G S A L E") is cheaper as its own words; "A D I B A S"
        is cheaper as one reading than as "AD" + "IB" + "AS". Without the spaces, typos are too
        easy to find across words ("B A T H E U" is DATEV with one), so only readings without
        typos count; and a look-alike reading is no reading where its letters are ordinary words
        from end to end ("B A T E U": "BAT" + "EU"), nor beside letters no word explains, where it
        may have cut a rare word short ("D A P E" + "U" of "DAP EU")."""
        keys = [text_key(letter) for letter in letters]
        text = "".join(keys)
        if len(keys) != len(text) or not _SPELLED_OUT_MIN * 2 - 1 <= len(text) <= _INNER_MAX:
            return []
        costs = self._spelled_costs(text)
        word_ends: dict[int, list[int]] = {}
        for (start, end), (_, word) in costs.items():
            if word:
                word_ends.setdefault(start, []).append(end)
        reach: dict[int, set[int]] = {}  # start -> where ordinary words from it can end
        readings: dict[tuple[int, int], bool] = {}  # span -> an imitation (not the name itself)
        for start, end in self._spelled_like_a_target(text):
            if (start, end) == (0, len(text)):
                continue  # the whole run is read anyway
            found = self.match_text(" ".join(letters[start:end]))
            if not isinstance(found, (AlteredName, BrandMention)) or (isinstance(found, AlteredName) and (found.kind == "embedded" or _any_typo(found))):
                continue
            imitation = isinstance(found, AlteredName) and found.kind != "separators"  # not the name's own letters
            if imitation and found.kind == "look-alike" and end in _reachable(start, word_ends, reach):
                continue  # letters that are ordinary words from end to end ("B A T E U": "BAT" + "EU") are those words
            score = found.score if isinstance(found, AlteredName) else 1.0
            readings[start, end] = imitation
            costs[start, end] = (_NAME_COST + _READING_COST * (1.0 - score), False)  # the closer reading first
        cut = _cheapest_cut(len(text), costs)
        found_spans = []
        for k, (start, end, _) in enumerate(cut):
            if (start, end) not in readings:
                continue
            beside = [cut[j] for j in (k - 1, k + 1) if 0 <= j < len(cut)]
            if readings[start, end] and any(not word and (s, e) not in readings for s, e, word in beside):
                continue  # an imitation beside letters no word explains may have cut a rare word short ("D A P E" + "U")
            found_spans.append((start, end))
        return found_spans

    def _spelled_like_a_target(self, text: str) -> set[tuple[int, int]]:
        """Spans of a key that spell a target's name letter for letter or by look-alikes (the
        only readings `_names_spelled_inside` takes), found with one pattern per name instead
        of matching every span of the run."""
        if self._target_patterns is None:
            keys = sorted({n.key for brand in self.catalog.brands for n in self.catalog.spellings(brand.id) if len(n.key) >= SHORT_NAME})
            self._target_patterns = [re.compile(f"(?=({_lookalike_pattern(key)}))") for key in keys]
        return {found.span(1) for pattern in self._target_patterns for found in pattern.finditer(text)}

    def _spelled_costs(self, text: str) -> dict[tuple[int, int], tuple[float, bool]]:
        """What reading each stretch of spelled-out letters as one piece costs, and whether it is
        an ordinary word or number (`_names_spelled_inside`). A target's name, or its plural, is no
        ordinary word; 2-3 letters only a common one (`_SHORT_WORD_ZIPF`)."""
        costs: dict[tuple[int, int], tuple[float, bool]] = {}
        for start, end in _spans(len(text), 1, _LONGEST_WORD):
            word = text[start:end]
            costs[start, end] = (_UNKNOWN_COST + _UNKNOWN_LETTER_COST * len(word), False)
            if word.isdigit():
                costs[start, end] = (_PIECE_COST + _NUMBER_COST, True)
            elif len(word) >= 2 and not self._is_target_key(word) and not (word.endswith("s") and self._is_target_key(word[:-1])):
                zipf = word_zipf(word) if word.isalpha() else 0.0
                if zipf >= _SHORT_WORD_ZIPF.get(len(word), self.honest_word_zipf):
                    costs[start, end] = (_PIECE_COST + 9.0 - zipf, True)
                elif len(word) >= SHORT_NAME and self.catalog.by_key(word):  # another real brand ("C L I O N", "G I T E E")
                    costs[start, end] = (_PIECE_COST + 9.0 - self.honest_word_zipf, True)
        return costs

    def _is_target_key(self, key: str) -> bool:
        return any(n.is_target for n in self.catalog.by_key(key))

    def _more_separators_than_the_name(self, found: AlteredName) -> bool:
        """More separators in the imitation's text than in any spelling of the brand's name: read
        from some pieces of a printed word ("E.com" of "www.e.com" for ECCO), it only holds them
        because the word was cut there."""
        return len(separator_gaps(found.text)) > max(len(n.gaps) for n in self.catalog.spellings(found.brand))

    def _spells(self, text: str, brand: str) -> bool:
        """Are these the letters of one of the brand's names (or its plural), and nothing else?"""
        key = text_key(text)
        return any(n.brand == brand for n in (*self.catalog.by_key(key), *self.catalog.by_key(key[:-1] if key.endswith("s") else "")))

    def confirm_altered(
        self, mentions: list[BrandMention], altered: list[AlteredName], reread: Callable[[tuple[int, int, int, int]], tuple[str, float]]
    ) -> tuple[list[BrandMention], list[AlteredName]]:
        """Ask a second OCR reader (`reread`: a box of the photo -> text, confidence) about each
        imitation with a typo in it. Where it confidently reads the brand's own name in the same
        place, the first reader slipped, as EasyOCR does on stylised wordmarks (FUJIFILM's logo
        read as "FUJHILM"), and the imitation becomes a mention; otherwise it stands. Imitations
        made only of look-alikes, separators or other scripts are not asked: recognisers are
        trained to read through those ("Crunchyrol|" comes back as "Crunchyroll")."""
        mentions, kept = list(mentions), []
        for found in altered:
            if found.box is None or not _any_typo(found):
                kept.append(found)
                continue
            text, confidence = reread(found.box)
            if confidence >= SECOND_READING_MIN_CONFIDENCE:
                again, again_altered = self.match_tokens([OcrToken(text, confidence, found.box)])
                if any(m.brand == found.brand for m in again) and not any(a.brand == found.brand for a in again_altered):
                    if all(m.brand != found.brand for m in mentions):
                        mentions.append(BrandMention(text, found.brand, confidence))
                    continue
            kept.append(found)
        return mentions, kept


def _bounding_box(run: Sequence[OcrToken]) -> tuple[int, int, int, int]:
    return (min(t.box[0] for t in run), min(t.box[1] for t in run), max(t.box[2] for t in run), max(t.box[3] for t in run))


def _last_separator(text: str) -> str:
    for ch in reversed(text.rstrip()):
        if not ch.isalnum():
            return ch
    return "\x00"


_NOT_TYPOS = ("look-alike", "characters from another script", "separators", "brand name joined")


def _any_typo(found: AlteredName) -> bool:
    """At least one change is a typo (a letter missing, extra, swapped or replaced)."""
    return any(not change.startswith(_NOT_TYPOS) for change in found.changes)


def _insertions_only(found: AlteredName) -> bool:
    return all(change.startswith(("insertion of", "repetition of")) for change in found.changes)


def _typos_only(found: AlteredName) -> bool:
    """Every change is a typo (the kind of change an OCR slip also makes)."""
    return not any(change.startswith(_NOT_TYPOS) for change in found.changes)


#: Capitals that OCR recognisers return for a look-alike digit or symbol: "Ne5café" comes back
#: as "NeScafe", "Tis5ot" as "TisSot". Inside a lower-case word they are the trace left.
_DIGIT_LIKE_CAPITALS = {"S": "5", "O": "0", "I": "1", "B": "8", "G": "6", "Z": "2", "E": "3", "A": "4", "T": "7"}


def _case_anomaly(run: Sequence[OcrToken], mention: BrandMention, catalog: BrandCatalog) -> AlteredName | None:
    """A correctly spelled name with a stray capital inside a lower-case word, where the brand
    itself has none: the OCR probably turned a digit back into the letter it imitates."""
    if len(run) != 1:
        return None  # joined boxes put capitals at word starts ("Deutsche" + "Bahn")
    text = "".join(ch for ch in mention.text if ch.isalnum())
    own_casings = ["".join(ch for ch in n.display if ch.isalnum()) for n in catalog.spellings(mention.brand)]
    for i in range(1, len(text) - 1):
        char = text[i]
        if char in _DIGIT_LIKE_CAPITALS and text[i - 1].islower() and text[i + 1].islower():
            if any(len(name) == len(text) and name[i] == char for name in own_casings):
                continue  # the brand's own casing ("SanDisk")
            digit = _DIGIT_LIKE_CAPITALS[char]
            change = f"look-alike {char.lower()}->{digit}? (OCR read a capital {char} inside a lower-case word)"
            return AlteredName(mention.text, mention.brand, "look-alike", [change], 0.7)
    return None


def _foreign_chars(text: str) -> list[str]:
    return list(dict.fromkeys(ch for ch in text if is_foreign(ch)))


def _corrected_lookalike(run: Sequence[OcrToken], mention: BrandMention) -> AlteredName | None:
    """A brand read correctly whose characters the recogniser also saw as look-alike digits or
    symbols: the OCR may have "corrected" SAM5UNG into SAMSUNG (field notes, trap 3)."""
    changes: list[str] = []
    for token in run:
        if not token.alternatives:
            continue
        for char, options in zip(token.text, token.alternatives):
            letter = skeleton(char)
            for alternative, probability in options:
                if (
                    probability >= OCR_EVIDENCE_MIN
                    and alternative in PRINT_LOOKALIKES
                    and is_lookalike(letter, alternative)
                ):
                    changes.append(f"look-alike {letter}->{alternative} (OCR p={probability:.2f})")
    if not changes:
        return None
    return AlteredName(mention.text, mention.brand, "look-alike", changes, 0.8)


def _readings(tokens: Sequence[OcrToken], inside: _InsideFinder | None = None) -> Iterable[tuple[Sequence[OcrToken], Sequence[OcrToken], frozenset[int], str, bool]]:
    """Every token and run as text: runs joined by a space, and without one where the boxes touch;
    then the words of tokens that hold several (a detector that boxes whole lines returns
    "ORIGINAL ADIBAS SHOES" as one token), alone and in runs, with their neighbours in other
    boxes: first the words as printed between spaces, then their pieces between the punctuation
    of domains, handles and compounds ("www.n1ke.shop": "www", "n1ke", "shop"). Words of one
    token read together keep its own spelling between them ("Coca-Cola", not "Coca Cola"). Each
    reading comes with the OCR boxes it was read from, its pieces (their ids), and whether it
    cuts a printed word (`_cuts`). `inside` says where to read inside a word spelled out (`_runs`)."""
    words, parent, words_of = _words(tokens)
    for run in _runs(tokens, inside=inside):
        span = frozenset(w for token in run for w in words_of[id(token)])
        yield run, run, span, " ".join(t.text for t in run), False
        if len(run) > 1 and _touching(run):
            yield run, run, span, "".join(t.text for t in run), False
    if not parent:
        return
    sizes = Counter(part for place in parent.values() for part in place[3:])  # pieces in each printed word and label
    cut_up = any(sizes[place[3]] > 1 for place in parent.values())  # else the pieces are the printed words
    read: set[tuple[int, ...]] = set()
    for printed in (True, False) if cut_up else (False,):
        for run in _runs(words, parent, printed, inside):
            ids = tuple(id(word) for word in run)
            if ids in read or not any(i in parent for i in ids):
                continue  # read already, or whole tokens (read above)
            read.add(ids)
            boxes = list({id(p): p for p in (_parent(word, parent) for word in run)}.values())
            cut = cut_up and _cuts(run, parent, sizes)
            yield run, boxes, frozenset(ids), _run_text(run, parent), cut
            if len(run) > 1 and _touching(run) and all(_parent(a, parent) is not _parent(b, parent) for a, b in zip(run, run[1:])):
                yield run, boxes, frozenset(ids), "".join(t.text for t in run), cut


#: What separates the pieces of a printed word: the punctuation of domains, handles and compounds
#: ("www.n1ke.shop", "gucci_outlet", "adibas-store"). Apostrophes, "&" and look-alike symbols
#: ("$", "|", "@") stay inside a piece; names with separators ("Coca-Cola", "7-Eleven") are read
#: as runs of their pieces in their own spelling, and as the printed word.
_PIECE = re.compile(r"[^\s._/\\:#+~,;()\[\]{}\-\u2010-\u2015\u00b7\u2022]+")

#: What separates the labels of a domain or path ("www", "nike-e", "com"): a printed word's parts.
_LABEL = re.compile(r"[^./:\\]+")

#: A piece of an OCR token: the token, the piece's place in its text, and the printed word (between
#: spaces) and the label it is part of, each named by the token's id and its number or start.
_Place = tuple[OcrToken, int, int, tuple[str, int, int], tuple[str, int, int]]


def _words(tokens: Sequence[OcrToken]) -> tuple[list[OcrToken], dict[int, _Place], dict[int, list[int]]]:
    """The tokens with each one of several pieces (words between spaces, and pieces of those)
    replaced by its pieces, each in its share of the box (by character position) with its
    characters' alternatives; where each piece came from, and the pieces of each token (by id)."""
    words: list[OcrToken] = []
    parent: dict[int, _Place] = {}
    words_of: dict[int, list[int]] = {}
    for token in tokens:
        spans = [
            (label.start() + piece.start(), label.start() + piece.end(), ("word", id(token), n), ("label", id(token), label.start()))
            for n, printed in enumerate(re.finditer(r"\S+", token.text))
            for label in _LABEL.finditer(token.text, printed.start(), printed.end())
            for piece in _PIECE.finditer(label.group())
        ]
        if len(spans) < 2:
            words.append(token)
            words_of[id(token)] = [id(token)]
            continue
        x0, y0, x1, y1 = token.box
        width, length = x1 - x0, len(token.text)
        words_of[id(token)] = []
        for start, end, printed, label in spans:
            alternatives = token.alternatives[start:end] if token.alternatives else None
            box = (x0 + round(width * start / length), y0, x0 + round(width * end / length), y1)
            word = OcrToken(token.text[start:end], token.confidence, box, alternatives)
            parent[id(word)] = (token, start, end, printed, label)
            words_of[id(token)].append(id(word))
            words.append(word)
    return words, parent, words_of


def _parent(word: OcrToken, parent: dict[int, _Place]) -> OcrToken:
    """The OCR token a piece came from (a whole token is its own)."""
    return parent[id(word)][0] if id(word) in parent else word


def _run_text(run: Sequence[OcrToken], parent: dict[int, _Place]) -> str:
    """Pieces as read: those of one token as its text spells them from the first to the last
    (spaces collapsed), those of different tokens joined by a space."""
    parts: list[list] = []  # [token, start, end]
    for word in run:
        token, start, end = parent[id(word)][:3] if id(word) in parent else (word, 0, len(word.text))
        if parts and parts[-1][0] is token:
            parts[-1][2] = end
        else:
            parts.append([token, start, end])
    return " ".join(" ".join(token.text[start:end].split()) for token, start, end in parts)


def _cuts(run: Sequence[OcrToken], parent: dict[int, _Place], sizes: Counter) -> bool:
    """Does the run cut a printed word: hold some of its pieces but not all, and not just all of
    one label ("nike-e" of "www.nike-e.com")? A word spelled out ("N.I.K.E") is no cut, nor a
    whole label followed by a label of one letter ("samsung.g" of "www.samsung.g.com": no
    top-level or country domain is one letter, so the letter is put there; "costco.co" of
    "costco.co.uk" stays a cut)."""
    keys = [text_key(word.text) for word in run]
    if all(len(key) == 1 for key in keys) and _spelled_out_word(keys):
        return False
    places = [parent[id(word)] for word in run if id(word) in parent]
    printed, labels = Counter(place[3] for place in places), Counter(place[4] for place in places)
    if all(sizes[word] == count for word, count in printed.items()):
        return False
    whole_labels = all(sizes[label] == count for label, count in labels.items())
    if whole_labels and len(labels) == 2 and len(printed) == 1 and len(keys[-1]) == 1 and keys[-1].isalpha() and len(places) == len(run):
        return False
    return not (len(labels) == 1 and whole_labels)


def _runs(
    tokens: Sequence[OcrToken], parent: dict[int, _Place] | None = None, printed: bool = False, inside: _InsideFinder | None = None
) -> Iterable[Sequence[OcrToken]]:
    """Each token, then runs of 2-3 neighbouring units on the same text line, left to right. A
    unit is a token (or a piece of one, with the pieces' `parent`), or with `printed` the pieces
    of one printed word; three or more single characters in a row are one unit, a word spelled
    out ("N I K E shoes", one box per letter, or "N.I.K.E" cut into pieces), and the spans of
    its letters that `inside` names are read too (words spelled out back to back, "S A L E N I K E",
    lose the space between them)."""
    for token in tokens:
        yield (token,)
    for line in _lines(tokens):
        units = _spelled_out(_printed_words(line, parent) if printed and parent else [[token] for token in line], parent)
        for unit in units:
            if len(unit) > 1:
                yield unit
                if inside is not None and all(len(text_key(token.text)) == 1 for token in unit):
                    for start, end in inside([token.text for token in unit]):
                        yield _Inner(unit[start:end])
        for size in (2, 3):
            for start in range(len(units) - size + 1):
                run = [token for unit in units[start : start + size] for token in unit]
                if _close_together(run, parent):
                    yield run


def _printed_words(line: Sequence[OcrToken], parent: dict[int, _Place]) -> list[list[OcrToken]]:
    """The line's pieces grouped into the words they were printed in (between spaces)."""
    units: list[list[OcrToken]] = []
    for token in line:
        place, last = parent.get(id(token)), parent.get(id(units[-1][-1])) if units else None
        if place is not None and last is not None and place[3] == last[3]:
            units[-1].append(token)
        else:
            units.append([token])
    return units


#: Fewest single characters in a row read as one word spelled out ("a b" is noise).
_SPELLED_OUT_MIN = 3
#: Where to read inside the letters of a word spelled out (their texts): spans (start, end).
_InsideFinder = Callable[[Sequence[str]], list[tuple[int, int]]]


class _Inner(list):
    """Letters read from inside a longer run of letters spelled out ("N I K E" of "S A L E N I K E"):
    `match_tokens` reads the name's own letters there as a mention, not as a name spaced out."""


#: Most letters spelled out in a row searched for names inside (a line of a box per letter is
#: tens; thousands are no printed text and stay one unit, read whole).
_INNER_MAX = 80
#: Longest word looked for where spelled-out letters are cut into words.
_LONGEST_WORD = 24
#: Costs of the pieces spelled-out letters are cut into (`TextMatcher._names_spelled_inside`): each
#: piece (fewer, longer words are the likelier reading), and besides a number; a stretch no word
#: explains costs as a word seen once in a billion, and more for each letter; a name or imitation
#: as a word seen once in a billion.
_PIECE_COST = 2.0
_NUMBER_COST = 3.0
_UNKNOWN_COST = _PIECE_COST + 9.0
_UNKNOWN_LETTER_COST = 3.5
_NAME_COST = _PIECE_COST + 9.0
#: What a reading's distance from the name adds (times 1 - its score): "N I K F" before "2 N I K F".
_READING_COST = 4.0
_NO_WORD = float("inf")
#: Zipf frequency that words of 2 and 3 letters need to be cut from spelled-out letters: wordfreq
#: holds most pairs of letters and many triples ("ni" 3.9, "kf" 2.6, "adi" 3.0, "bas" 3.2: "N I K F"
#: and "A D I B A S" would be cut into them); "eu", "uk", "mm", "new", "bag", "usb", "kg" stay words.
_SHORT_WORD_ZIPF = {2: 4.5, 3: 4.0}


def _lookalike_pattern(key: str) -> str:
    """A regular expression for a name's key spelled letter for letter or with look-alikes
    (`text/lookalikes.py`): "nike" -> "n[il1|!¡j]k[e3f€£c]" and the like."""
    parts = []
    for char in key:
        same = {char} | {t for t, letters in PRINT_LOOKALIKES.items() if char in letters}
        same |= {other for pair in LOOKALIKE_PAIRS if char in pair for other in pair}
        sequences = [seq for seq, letter in LOOKALIKE_SEQUENCES.items() if letter == char]
        options = "[" + "".join(re.escape(ch) for ch in sorted(same)) + "]"
        parts.append(f"(?:{'|'.join([options, *map(re.escape, sequences)])})" if sequences else options)
    return "".join(parts)


def _cheapest_cut(length: int, costs: dict[tuple[int, int], tuple[float, bool]]) -> list[tuple[int, int, bool]]:
    """The cheapest cut of `length` positions into spans with `costs` (cost, is a word), every
    single position among them: its pieces as (start, end, is a word)."""
    best = [0.0] + [_NO_WORD] * length
    came = [0] * (length + 1)
    for (start, end), (cost, _) in sorted(costs.items(), key=lambda item: item[0][1]):
        if best[start] + cost < best[end]:
            best[end], came[end] = best[start] + cost, start
    cut: list[tuple[int, int, bool]] = []
    end = length
    while end > 0:
        cut.append((came[end], end, costs[came[end], end][1]))
        end = came[end]
    return cut[::-1]


def _reachable(start: int, ends: dict[int, list[int]], known: dict[int, set[int]]) -> set[int]:
    """Where a chain of pieces from `start` can end (`ends`: each piece's end by its start)."""
    if start not in known:
        known[start] = set()
        for end in ends.get(start, ()):
            known[start] |= {end} | _reachable(end, ends, known)
    return known[start]


def _spans(length: int, shortest: int, longest: int) -> Iterable[tuple[int, int]]:
    """(start, end) of every stretch of `shortest` to `longest` of `length` positions."""
    for start in range(length):
        for end in range(start + shortest, min(length, start + longest) + 1):
            yield start, end


def _spelled_out(units: list[list[OcrToken]], parent: dict[int, _Place] | None) -> list[list[OcrToken]]:
    """The units, except that `_SPELLED_OUT_MIN` or more single characters in a row, close
    together and not all digits, are one."""
    merged: list[list[OcrToken]] = []
    letters: list[OcrToken] = []
    for unit in units:
        single = len(unit) == 1 and len(text_key(unit[0].text)) == 1
        if not (single and letters and _close_together([letters[-1], unit[0]], parent)):
            merged += _spelled_unit(letters)  # the letters so far end here
            letters = []
        if single:
            letters.append(unit[0])
        else:
            merged.append(unit)
    return merged + _spelled_unit(letters)


def _spelled_unit(letters: list[OcrToken]) -> list[list[OcrToken]]:
    return [letters] if _spelled_out_word([text_key(t.text) for t in letters]) else [[letter] for letter in letters]


def _spelled_out_word(chars: Sequence[str]) -> bool:
    """Single characters in a row that spell a word out: `_SPELLED_OUT_MIN` or more, not all digits."""
    return len(chars) >= _SPELLED_OUT_MIN and not all(ch.isdigit() for ch in chars)


def _lines(tokens: Sequence[OcrToken]) -> list[list[OcrToken]]:
    """Group boxes into text lines by vertical overlap (tolerant of slightly rotated text)."""
    lines: list[list[OcrToken]] = []
    centres = tallest = 0.0  # of the last line: sum of the centres, tallest box (kept as it grows: pieces of a long line are many)
    for token in sorted(tokens, key=lambda t: (t.box[1] + t.box[3]) / 2):
        centre = (token.box[1] + token.box[3]) / 2
        height = max(token.box[3] - token.box[1], 1)
        if lines:
            last = lines[-1]
            if abs(centre - centres / len(last)) < 0.5 * max(tallest, height):
                last.append(token)
                centres, tallest = centres + centre, max(tallest, token.box[3] - token.box[1])
                continue
        lines.append([token])
        centres, tallest = centre, token.box[3] - token.box[1]
    return [sorted(line, key=lambda t: t.box[0]) for line in lines]


def _gaps(run: Sequence[OcrToken]) -> list[int]:
    return [run[k + 1].box[0] - run[k].box[2] for k in range(len(run) - 1)]


def _close_together(run: Sequence[OcrToken], parent: dict[int, _Place] | None = None) -> bool:
    """Neighbours on a line, not far apart; pieces of one OCR box always are (the detector boxed
    them together, and their boxes, shares by character, count the punctuation between them)."""
    tall = max(max(t.box[3] - t.box[1] for t in run), 1)
    gaps = [b.box[0] - a.box[2] for a, b in zip(run, run[1:]) if parent is None or _parent(a, parent) is not _parent(b, parent)]
    return all(-0.5 * tall < gap < 1.5 * tall for gap in gaps)


def _touching(run: Sequence[OcrToken]) -> bool:
    """Boxes so close that the OCR probably split one word ("CLOUDBEESWA" + "TCHES")."""
    tall = max(max(t.box[3] - t.box[1] for t in run), 1)
    return all(gap < 0.35 * tall for gap in _gaps(run))


def _word_gaps(text: str) -> int:
    """Separators between two words, where a lone letter is no word: beside a space it is the OCR
    splitting one ("t Lddaw" for a printed "tlddaw", "N ike"). A lone digit is a word ("NIKE 1"),
    and so are three or more single characters in a row, a word spelled out ("d o v EU": two)."""
    chars = [ch for ch in skeleton(text) if is_key_char(ch)]
    bounds = [0, *sorted(separator_gaps(text)), len(chars)]
    pieces = [chars[start:end] for start, end in zip(bounds, bounds[1:])]
    word: list[bool] = []
    for single, group in groupby(pieces, key=lambda piece: len(piece) == 1):
        chars = [piece[0] for piece in group]
        if not single:
            word += [True] * len(chars)
        elif _spelled_out_word(chars):
            word.append(True)  # a word spelled out ("d o v" of "d o v EU")
        else:
            word += [not ch.isalpha() for ch in chars]
    return sum(1 for left, right in zip(word, word[1:]) if left and right)


def _typos(found: AlteredName) -> int:
    return sum(not change.startswith(_NOT_TYPOS) for change in found.changes)


def _worse_reading(a: AlteredName, b: AlteredName, words: dict[int, frozenset[int]]) -> bool:
    """Is `a` a worse reading of the words `b` also reads: of the same brand, one read from
    words inside the other's with more typos (at a tie: `a` is the longer); of another brand,
    `a` read from words inside `b`'s with no fewer typos ("HERLEY" of "HERLEY-DAVIDSON")? Of
    the same brand from the same words (a box of "N.I.K.E." read whole and as its pieces,
    "N.I.K.E"), all but one go: the one with fewer typos stays, at a tie the shorter."""
    if a is b:
        return False
    if a.brand == b.brand and words[id(a)] == words[id(b)]:
        return (_typos(a), len(a.text), a.text) > (_typos(b), len(b.text), b.text)
    if words[id(a)] < words[id(b)]:
        return _typos(a) > _typos(b) if a.brand == b.brand else _typos(a) >= _typos(b)
    if a.brand == b.brand and words[id(b)] < words[id(a)]:
        return b.kind != "embedded" and _typos(a) >= _typos(b)
    return False
