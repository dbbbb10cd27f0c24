"""How well the brand-name text matcher separates imitations from correct names and honest text.

Reads the labelled set written by `benchmarks/text_set.py`, builds `BrandCatalog` and
`TextMatcher` from its catalogue, runs `TextMatcher.match_text` on every text and prints:

* per imitation class: n, recall (an `AlteredName` naming the right brand), wrong-brand count,
  and how many came back as a `BrandMention` or as nothing;
* the `correct` class: share reported as a `BrandMention` of the right brand, share flagged altered;
* per honest class: n and false-flag rate (any `AlteredName`);
* overall imitation recall, overall honest false-flag rate, and throughput in texts/s.

    .venv/bin/python benchmarks/text_set.py && .venv/bin/python benchmarks/eval_text.py
    .venv/bin/python benchmarks/eval_text.py --set build/text_set.jsonl --limit 200 --show-misses 20

`--limit N` keeps the first N texts of each class. The exit status is always 0: this is a
benchmark, not a test.

`--in-lines` also puts every text through `TextMatcher.match_tokens` as one OCR box (a detector
that boxes whole lines), in five forms: printed inside a line of other words ("new ... bag for
sale", one of six lines, drawn with a fixed seed, so the same text gets the same line in every
run), written into a domain, handle or compound ("www.....com", "..._outlet", "...-store"; spaces
become hyphens), written into a domain with dots for its spaces and hyphens ("www.Nike.e.com",
"shop.best.price.net"), spelled out letter by letter inside a line ("N I K E"), and the whole
line spelled out, the text's letters running on into its neighbours' ("O R I G I N A L N I K E
S H O E S", as OCR reads a box per letter or letters printed with spaces). It prints per form:
imitations found (an `AlteredName` of the right brand), honest texts flagged, correct names
reported as a mention and flagged, and ms per text; with `--show-misses N`, up to N of the
honest texts and correct names it flagged. Spelled out (both forms), a correct name is an imitation
(separators): it counts under "flagged" but is not listed. "In a line" is the measurement behind
the README's figures for words inside OCR line boxes.

A few texts lie equally close to two names; until 2026-11-25 which one was tried first followed
Python's string hashing (the figures of that day's matcher changes were taken under
`PYTHONHASHSEED=0`); since, ties are broken alphabetically, the same in every process.

    PYTHONHASHSEED=0 .venv/bin/python benchmarks/eval_text.py --in-lines --show-misses 10
"""

from __future__ import annotations

import argparse
import json
import re
import time
import traceback
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Outcome:
    row: dict[str, Any]
    kind: str  # "altered", "mention", "none", "error" or "other"
    brand: str | None
    shown: str  # the matcher's answer, for --show-misses


def load(path: Path, limit: int | None) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    with path.open(encoding="utf-8") as lines:
        catalogue = json.loads(next(lines))["catalogue"]
        rows = [json.loads(line) for line in lines if line.strip()]
    if limit is not None:
        taken: Counter[str] = Counter()
        kept = []
        for row in rows:
            taken[row["class"]] += 1
            if taken[row["class"]] <= limit:
                kept.append(row)
        rows = kept
    return catalogue, rows


def classify(result: Any) -> tuple[str, str | None]:
    from visionguard.results import AlteredName, BrandMention

    if isinstance(result, (list, tuple)):  # tolerate a matcher that returns every finding
        result = next((r for r in result if isinstance(r, AlteredName)), None) or next(
            (r for r in result if isinstance(r, BrandMention)), None)
    if result is None:
        return "none", None
    if isinstance(result, AlteredName):
        return "altered", result.brand
    if isinstance(result, BrandMention):
        return "mention", result.brand
    return "other", None


def run(matcher: Any, rows: list[dict[str, Any]]) -> tuple[list[Outcome], float, Counter[str]]:
    outcomes: list[Outcome] = []
    errors: Counter[str] = Counter()
    spent = 0.0
    for row in rows:
        start = time.perf_counter()
        try:
            result = matcher.match_text(row["text"])
        except Exception as error:  # noqa: BLE001 - a benchmark reports failures, it does not stop on them
            spent += time.perf_counter() - start
            if not errors:
                traceback.print_exc()
            errors[f"{type(error).__name__}: {error}"[:120]] += 1
            outcomes.append(Outcome(row, "error", None, f"raised {type(error).__name__}: {error}"))
            continue
        spent += time.perf_counter() - start
        kind, brand = classify(result)
        outcomes.append(Outcome(row, kind, brand, repr(result)))
    return outcomes, spent, errors


LINES = ["ORIGINAL {} SHOES", "new {} bag for sale", "{} 2024", "genuine {}", "{} outlet store", "size 42 {} EU"]
JOINED = ["www.{}.com", "{}_outlet", "{}-store", "shop.{}.net", "https://{}.co.uk/sale"]
DOTTED = ["www.{}.com", "shop.{}.net", "https://{}.co.uk/sale"]
FORMS = {
    "in a line": lambda text, rng: rng.choice(LINES).format(text),
    "domain / handle": lambda text, rng: rng.choice(JOINED).format("-".join(text.split())),
    "dotted domain": lambda text, rng: rng.choice(DOTTED).format(".".join(re.split(r"[\s_-]+", text))),
    "spelled out": lambda text, rng: rng.choice(LINES).format(" ".join(ch for ch in text if not ch.isspace())),
    "spelled-out line": lambda text, rng: " ".join(ch for ch in rng.choice(LINES).format(text) if not ch.isspace()),
}


def run_in_lines(matcher: Any, rows: list[dict[str, Any]], show: int) -> None:
    """Each text as one OCR box in each of `FORMS`; see the module's docstring."""
    import random

    from visionguard.results import OcrToken

    print(f"\n{'as one OCR box':18}{'imitations found':>22}{'honest flagged':>20}{'correct: mention':>20}{'flagged':>9}{'ms/text':>9}")
    for form, write in FORMS.items():
        rng = random.Random(0)
        counts: Counter[tuple[str, str]] = Counter()
        flags: list[str] = []
        spent = 0.0
        for row in rows:
            text = write(row["text"], rng)
            start = time.perf_counter()
            mentions, altered = matcher.match_tokens([OcrToken(text, 0.9, (0, 0, 40 * len(text), 40))])
            spent += time.perf_counter() - start
            label = row["label"]
            counts[label, "n"] += 1
            if label == "imitation":
                counts[label, "hit"] += any(a.brand == row["brand"] for a in altered)
                continue
            counts[label, "flag"] += bool(altered)
            if label == "brand":
                counts[label, "mention"] += any(m.brand == row["brand"] for m in mentions)
            # spelled out, a correct name is an imitation; "rare" words are a diagnostic of their own
            if altered and (label == "honest" or (label == "brand" and not form.startswith("spelled"))):
                flags.append(f"  [{row['class']}] {text!r} -> {[(a.text, a.brand, a.changes) for a in altered]}")
        n = lambda label, what: counts[label, what]  # noqa: E731
        print(f"{form:18}{n('imitation', 'hit'):>9} of {n('imitation', 'n'):<6}{pct(n('imitation', 'hit'), n('imitation', 'n'))}"
              f"{n('honest', 'flag'):>7} of {n('honest', 'n'):<6}{n('brand', 'mention'):>10} of {n('brand', 'n'):<6}"
              f"{n('brand', 'flag'):>6}{1e3 * spent / max(len(rows), 1):9.3f}")
        for line in flags[:show]:
            print(line)


def pct(part: int, whole: int) -> str:
    return f"{100.0 * part / whole:6.1f}%" if whole else "     -"


def report(outcomes: list[Outcome]) -> tuple[list[Outcome], list[Outcome]]:
    """Print the tables; return (missed imitations, false flags) for --show-misses."""
    by_class: dict[str, list[Outcome]] = defaultdict(list)
    for outcome in outcomes:
        by_class[outcome.row["class"]].append(outcome)
    missed: list[Outcome] = []
    flagged: list[Outcome] = []
    imitation_hits = imitation_n = honest_flags = honest_n = 0
    recalls: list[float] = []

    print(f"\n{'imitation class':24}{'n':>7}{'recall':>9}{'wrong brand':>13}{'as mention':>12}{'nothing':>9}{'errors':>8}")
    for cls, items in by_class.items():
        if items[0].row["label"] != "imitation":
            continue
        hits = [o for o in items if o.kind == "altered" and o.brand == o.row["brand"]]
        wrong = sum(o.kind == "altered" and o.brand != o.row["brand"] for o in items)
        kinds = Counter(o.kind for o in items)
        missed += [o for o in items if not (o.kind == "altered" and o.brand == o.row["brand"])]
        imitation_hits, imitation_n = imitation_hits + len(hits), imitation_n + len(items)
        recalls.append(len(hits) / len(items))
        print(f"{cls:24}{len(items):7}{pct(len(hits), len(items)):>9}{wrong:13}{kinds['mention']:12}"
              f"{kinds['none']:9}{kinds['error']:8}")

    print(f"\n{'brand class':24}{'n':>7}{'mention, right brand':>22}{'flagged altered':>17}")
    for cls, items in by_class.items():
        if items[0].row["label"] != "brand":
            continue
        right = sum(o.kind == "mention" and o.brand == o.row["brand"] for o in items)
        altered = [o for o in items if o.kind == "altered"]
        flagged += altered
        missed += [o for o in items if not (o.kind == "mention" and o.brand == o.row["brand"]) and o.kind != "altered"]
        print(f"{cls:24}{len(items):7}{pct(right, len(items)):>22}{pct(len(altered), len(items)):>17}")

    print(f"\n{'honest class':24}{'n':>7}{'false flags':>13}{'rate':>9}{'as mention':>12}")
    for cls, items in by_class.items():
        if items[0].row["label"] != "honest":
            continue
        flags = [o for o in items if o.kind == "altered"]
        flagged += flags
        honest_flags, honest_n = honest_flags + len(flags), honest_n + len(items)
        mentions = sum(o.kind == "mention" for o in items)
        print(f"{cls:24}{len(items):7}{len(flags):13}{pct(len(flags), len(items)):>9}{mentions:12}")

    for cls, items in by_class.items():
        if items[0].row["label"] == "rare":  # diagnostic: rarer real words near a brand, not in the totals
            flags = sum(o.kind == "altered" for o in items)
            print(f"{cls + ' (diagnostic)':24}{len(items):7}{flags:13}{pct(flags, len(items)):>9}")

    macro = f"{100.0 * sum(recalls) / len(recalls):.1f}%" if recalls else "-"
    print(f"\nimitation recall: {pct(imitation_hits, imitation_n).strip()} of {imitation_n} "
          f"(mean over classes {macro})")
    print(f"honest false-flag rate: {pct(honest_flags, honest_n).strip()} of {honest_n}")
    return missed, flagged


def show(title: str, outcomes: list[Outcome], count: int) -> None:
    """Up to `count` examples, taken round-robin over classes so no class crowds out the rest."""
    queues: dict[str, list[Outcome]] = defaultdict(list)
    for outcome in outcomes:
        queues[outcome.row["class"]].append(outcome)
    picked: list[Outcome] = []
    while len(picked) < count and any(queues.values()):
        for queue in queues.values():
            if queue and len(picked) < count:
                picked.append(queue.pop(0))
    print(f"\n{title} ({len(picked)} of {len(outcomes)}):")
    for o in picked:
        note = f", {o.row['note']}" if o.row.get("note") else ""
        print(f"  [{o.row['class']}] {o.row['text']!r} (brand={o.row['brand']}{note}) -> {o.shown}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--set", dest="path", type=Path, default=ROOT / "build" / "text_set.jsonl")
    parser.add_argument("--limit", type=int, default=None, help="at most N texts per class")
    parser.add_argument("--show-misses", type=int, default=0, metavar="N",
                        help="print up to N missed imitations and N false flags with the matcher's output")
    parser.add_argument("--in-lines", action="store_true",
                        help="also match every text as one OCR box: inside a line, in a domain or handle, spelled out")
    args = parser.parse_args()
    if not args.path.exists():
        print(f"no benchmark set at {args.path}; run .venv/bin/python benchmarks/text_set.py first")
        return
    try:
        from visionguard.gallery import Brand
        from visionguard.text import BrandCatalog, TextMatcher
    except ImportError as error:
        print(f"cannot import the matcher ({error}); nothing measured")
        return
    catalogue, rows = load(args.path, args.limit)
    start = time.perf_counter()
    try:
        brands = [Brand(id=b["id"], name=b["name"], aliases=tuple(b.get("aliases", ()))) for b in catalogue]
        matcher = TextMatcher(BrandCatalog(brands))
    except Exception:  # noqa: BLE001
        traceback.print_exc()
        print("could not build the catalogue and matcher; nothing measured")
        return
    built = time.perf_counter() - start
    outcomes, spent, errors = run(matcher, rows)
    print(f"set {args.path}: {len(catalogue)} catalogue brands, {len(rows)} texts")
    missed, flagged = report(outcomes)
    rate = f"{len(rows) / spent:,.0f} texts/s ({1e3 * spent / max(len(rows), 1):.3f} ms/text)" if spent else "-"
    print(f"throughput: {rate}; catalogue + matcher built in {built:.2f} s")
    if errors:
        print(f"match_text raised on {sum(errors.values())} texts: {dict(errors.most_common(5))}")
    if args.show_misses > 0:
        show("missed imitations and unrecognised correct names", missed, args.show_misses)
        show("false flags (honest or correct text reported as altered)", flagged, args.show_misses)
    if args.in_lines:
        run_in_lines(matcher, rows, args.show_misses)


if __name__ == "__main__":
    main()
