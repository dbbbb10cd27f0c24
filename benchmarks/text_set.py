"""Generate a labelled benchmark set for the brand-name text matcher (deterministic per --seed).

Measures nothing itself: it writes `build/text_set.jsonl` for `benchmarks/eval_text.py`. The
first line is `{"catalogue": [{"id", "name", "aliases"}, ...]}` (a few hundred target brands
sampled from the bundled brand lists); every other line is one text with
`{"text", "label": "imitation"|"brand"|"honest", "brand": target id or null, "class", "note"}`.
Imitations (look-alike print, cross-script confusables, six kinds of typo, spacing, multi-word
typos, brand glued to a word) come from this file's own tables, independent of
`visionguard.text`. An imitation is dropped when its letters form an ordinary word (wordfreq
zipf >= 2), equal another bundled brand, or sit as close to another target as to its own.
Honest texts are ordinary words near a target name (Nice/Nike), random words and phrases, and
other bundled brand names (Nikon, Tesco).

    .venv/bin/python benchmarks/text_set.py && .venv/bin/python benchmarks/eval_text.py
"""

from __future__ import annotations

import argparse
import json
import random
import unicodedata
from collections import Counter
from functools import lru_cache
from itertools import combinations
from pathlib import Path
from typing import Callable

from wordfreq import top_n_list, zipf_frequency

ROOT = Path(__file__).resolve().parents[1]
LISTS = [ROOT / "visionguard/assets/brands/consumer_brands.txt", ROOT / "visionguard/assets/brands/simple_icons.txt"]
REQUIRED = ["Adidas", "Nike", "Gucci", "Fujifilm", "Prada", "Rolex", "Louis Vuitton", "Samsung", "New Balance",
            "Puma", "Dell", "Tesla", "Lego", "Under Armour", "Chanel", "LG", "HP", "BMW", "JBL", "H&M"]
ALIASES = {"Louis Vuitton": ["LV"], "Mercedes-Benz": ["Mercedes"], "Dolce & Gabbana": ["D&G"], "Levi's": ["Levis"],
           "Harley-Davidson": ["Harley Davidson"], "Dr. Martens": ["Doc Martens"], "Saint Laurent": ["YSL"]}
N_SHORT, PER_CLASS, NEAR_CAP, N_WORDS, N_PHRASES, OTHER_CAP = 15, 600, 6000, 2000, 1500, 1500
TYPOS = ["keyboard_substitution", "omission", "insertion", "repetition", "transposition", "vowel_swap"]
LOOKALIKE = dict(pair.split("=") for pair in "o=0 O=0 l=1,I,| I=l,1,| i=1,l,| s=5,$ S=5,$ b=8,d B=8 a=@ A=4 e=3,c "
                 "E=3,F g=9 G=6,Q Q=G T=7 d=b,cl u=v U=V v=u V=U h=n n=h c=e m=rn w=vv W=VV".split())  # letter=looks
UNDIGIT = str.maketrans({v: k.lower() for k, vs in LOOKALIKE.items() for v in vs.split(",") if not v.isalpha()})
CANON = [("lookalike_print", "ADIBAS", "Adidas"), ("lookalike_print", "GUCCl", "Gucci"), ("repetition", "Rolexx", "Rolex"),
         ("spacing", "ADI DAS", "Adidas"), ("spacing", "A.D.I.D.A.S", "Adidas"), ("spacing", "N-I-K-E", "Nike"),
         ("spacing", "Nike-e", "Nike"), ("multiword", "Louis Vuiton", "Louis Vuitton"), ("multiword", "Luis Vuitton",
         "Louis Vuitton"), ("multiword", "New Balanse", "New Balance"), ("multiword", "Under Armor", "Under Armour"),
         ("embedded", "NIKEshoes", "Nike"), ("embedded", "adidasoriginals", "Adidas"), ("embedded", "gucciBag", "Gucci")]
CYRILLIC = dict(zip("aeopcxyisAEOPCXBHKMTIS", "аеорсхуіѕАЕОРСХВНКМТІЅ"))
GREEK = dict(zip("oavipABEHIKMNOPTXYZ", "οανιρΑΒΕΗΙΚΜΝΟΡΤΧΥΖ"))
PHONETIC = [tuple(rule.split(">")) for rule in "ou>u tt>t ll>l ss>s nn>n rr>r t>tt l>ll n>nn our>or nce>nse ce>se "
            "ck>k c>k k>c ph>f f>ph y>i i>y ei>ie ie>ei s>z z>s er>ar ar>er or>our x>ks qu>kw au>o ea>ee".split()]
VOCAB = ("shoes bag bags originals original official store shop outlet sale watch watches sports kids men women style "
         "fashion wear jacket shirt tshirt sneakers perfume phone laptop toys cap belt wallet authentic new best cheap "
         "online deals hoodie cases usa luxury genuine replica").split()
ROWS = ["qwertyuiop", "asdfghjkl", "zxcvbnm"]
NEIGHBOURS = {c: "".join(ROWS[r2][c2] for r2, c2 in ((r, i - 1), (r, i + 1), (r - 1, i), (r - 1, i + 1),
                                                   (r + 1, i - 1), (r + 1, i)) if 0 <= r2 < 3 and 0 <= c2 < len(ROWS[r2]))
              for r, row in enumerate(ROWS) for i, c in enumerate(row)}


def key(text: str) -> str:
    return "".join(c for c in text.casefold() if c.isalnum())


def unaccented(text: str) -> str:
    return key("".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)))


def letters(text: str) -> str:
    return "".join(c for c in text.casefold() if c.isalpha())


@lru_cache(maxsize=None)
def zipf(text: str) -> float:
    return zipf_frequency(text, "en") if text else 0.0


def osa(a: str, b: str, limit: int = 3) -> int:
    """Damerau-Levenshtein (optimal string alignment) distance, capped at limit + 1."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    before, prev = [0] * (len(b) + 1), list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cur[j] = min(prev[j - 1] + (a[i - 1] != b[j - 1]), prev[j] + 1, cur[j - 1] + 1)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], before[j - 2] + 1)
        if min(cur) > limit:
            return limit + 1
        before, prev = prev, cur
    return min(prev[-1], limit + 1)


def deletes(word: str, depth: int) -> set[str]:
    return {"".join(c for k, c in enumerate(word) if k not in drop)
            for n in range(depth + 1) for drop in combinations(range(len(word)), n)}


def title(s: str) -> str:
    return " ".join(w[:1].upper() + w[1:].lower() for w in s.split(" "))


CASES: list[Callable[[str], str]] = [str.upper, title, str.lower, lambda s: s]


def read_bundled() -> list[tuple[str, int]]:
    """(name, list number) for every bundled brand, first spelling of each key kept."""
    seen: dict[str, tuple[str, int]] = {}
    for number, path in enumerate(LISTS):
        for name in (line.strip() for line in path.read_text(encoding="utf-8").splitlines()):
            if key(name) and not name.startswith("#"):
                seen.setdefault(key(name), (name, number))
    return list(seen.values())


def pick_catalogue(rng: random.Random, bundled: list[tuple[str, int]], size: int) -> list[dict]:
    by_key = {key(n): n for n, _ in bundled}
    chosen = [by_key[key(n)] for n in REQUIRED]
    short = sorted(n for n, _ in bundled if 2 <= len(letters(n)) <= 3 and all(c.isupper() or c == "&" for c in n)
                   and n.isascii() and zipf(n.lower()) < 4 and n not in chosen)
    rng.shuffle(short)
    chosen += short[: max(0, N_SHORT - sum(len(letters(n)) <= 3 for n in chosen))]
    pools: list[list[str]] = [[], []]
    for name, number in bundled:
        words = name.replace("-", " ").split()
        if (name not in chosen and len(letters(name)) >= 4 and len(words) <= 3 and zipf(name.casefold()) < 4
                and all((c.isalpha() and c < "\u0250") or c in " -'&." for c in name)):
            pools[number].append(name)
    for pool in pools:
        rng.shuffle(pool)
    chosen += pools[0][: max(0, size - len(chosen)) // 2]
    chosen += pools[1][: max(0, size - len(chosen))]
    slugs = ["-".join("".join(c if c.isalnum() else " " for c in n.lower()).split()) for n in chosen]
    ids = [slug if slug not in slugs[:k] else f"{slug}-{k}" for k, slug in enumerate(slugs)]
    return [{"id": i, "name": n, "aliases": ALIASES.get(n, [])} for i, n in zip(ids, chosen)]


class Builder:
    """Collects rows and applies the rules that keep imitation labels honest."""

    def __init__(self, catalogue: list[dict], bundled_keys: set[str]) -> None:
        self.rows: dict[str, list[dict]] = {}
        self.texts: set[str] = set()
        self.dropped: Counter[str] = Counter()
        self.bundled_keys = bundled_keys
        self.own = {b["id"]: {key(n) for n in [b["name"], *b["aliases"]]} for b in catalogue}
        self.target_keys = {k for keys in self.own.values() for k in keys}
        # honest text must not be a target spelled without accents or in the plural (Hermes, Pumas)
        self.mention_keys = {unaccented(k) + end for k in self.target_keys for end in ("", "s", "es")}
        self.letter_keys = [(b["id"], letters(n)) for b in catalogue for n in [b["name"], *b["aliases"]]]

    def imitation(self, cls: str, text: str, brand: dict, note: str) -> None:
        k, plain, own = key(text), letters(text), letters(brand["name"])
        if text in self.texts or not k:
            return
        own_keys = self.own[brand["id"]]
        if k in own_keys and cls != "spacing" or k in self.bundled_keys - own_keys:
            self.dropped["equals a brand name"] += 1
        elif any(k in (o + "s", o + "es") for o in own_keys):
            self.dropped["plural or possessive of the name"] += 1
        elif plain != own and zipf(plain) >= 2.0:
            self.dropped["is an ordinary word"] += 1
        elif cls not in ("confusable", "spacing", "embedded") and self.ambiguous(text, brand["id"], own):
            self.dropped["as close to another target"] += 1
        else:
            self.add(cls, "imitation", text, brand["id"], note)

    def ambiguous(self, text: str, brand_id: str, own: str) -> bool:
        skeleton = letters(text.translate(UNDIGIT))
        distance = osa(skeleton, own, 4)
        return any(other != brand_id and osa(skeleton, name, distance) <= distance for other, name in self.letter_keys)

    def add(self, cls: str, label: str, text: str, brand: str | None, note: str = "") -> bool:
        if text in self.texts or (label == "honest" and unaccented(text) in self.mention_keys):
            return False
        self.texts.add(text)
        self.rows.setdefault(cls, []).append({"text": text, "label": label, "brand": brand, "class": cls, "note": note})
        return True

    def fill(self, rng: random.Random, cls: str, brands: list[dict], make: Callable[[dict], tuple[str, str] | None]) -> None:
        """Round-robin over the brands, one attempt each, until the class has PER_CLASS rows."""
        brands = brands[:]
        rng.shuffle(brands)
        for _ in range(40):
            for brand in brands:
                if len(self.rows.get(cls, [])) >= PER_CLASS:
                    return
                made = make(brand)
                if made:
                    self.imitation(cls, made[0], brand, made[1])


def lookalike(rng: random.Random, brand: dict) -> tuple[str, str] | None:
    text = rng.choice(CASES)(brand["name"])
    spots = [(i, c) for i, c in enumerate(text) if c in LOOKALIKE]
    count = 2 if len(letters(text)) >= 5 and rng.random() < 0.35 and len(spots) > 1 else 1
    changes = []
    for i, c in sorted(rng.sample(spots, count) if spots else [], reverse=True):
        new = rng.choice(LOOKALIKE[c].split(","))
        text = text[:i] + new + text[i + 1:]
        changes.append(f"{c}->{new}")
    return (text, ", ".join(changes)) if changes else None


def confusable(rng: random.Random, brand: dict) -> tuple[str, str] | None:
    text = rng.choice(CASES)(brand["name"])
    if rng.random() < 0.15:
        wide = "".join("\u3000" if c == " " else chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)
        return wide, "fullwidth"
    spots = [i for i, c in enumerate(text) if c in CYRILLIC or c in GREEK]
    if not spots:
        return None
    changes = []
    for i in rng.sample(spots, min(len(spots), rng.randint(1, 3))):
        table = rng.choice([t for t in (CYRILLIC, GREEK) if text[i] in t])
        changes.append(f"{text[i]}->{'cyrillic' if table is CYRILLIC else 'greek'} {table[text[i]]}")
        text = text[:i] + table[text[i]] + text[i + 1:]
    return text, ", ".join(changes)


def typo(rng: random.Random, text: str, op: str) -> str | None:
    """One edit of kind `op` at a random letter of lower-case `text`; None when there is no place for it."""
    pos = [i for i, c in enumerate(text) if c.isalpha()]
    spots = {"keyboard_substitution": [i for i in pos if text[i] in NEIGHBOURS],
             "transposition": [i for i in pos if i + 1 in pos and text[i] != text[i + 1]],
             "vowel_swap": [i for i in pos if text[i] in "aeiou"],
             "insertion": [*pos[1:], pos[-1] + 1] if pos else []}.get(op, pos)
    if not spots:
        return None
    i = rng.choice(spots)
    if op == "omission":
        return text[:i] + text[i + 1:]
    if op == "repetition":
        return text[: i + 1] + text[i:]
    if op == "transposition":
        return text[:i] + text[i + 1] + text[i] + text[i + 2:]
    if op == "insertion":
        return text[:i] + rng.choice([c for c in "abcdefghijklmnopqrstuvwxyz" if c not in text[i - 1: i + 1]]) + text[i:]
    pool = NEIGHBOURS[text[i]] if op == "keyboard_substitution" else [v for v in "aeiou" if v != text[i]]
    return text[:i] + rng.choice(pool) + text[i + 1:]


def typos(rng: random.Random, brand: dict, op: str) -> tuple[str, str] | None:
    """One edit for names of 4-7 letters, one or two for longer ones."""
    text: str | None = brand["name"].lower()
    for _ in range(1 if len(letters(brand["name"])) < 8 else rng.randint(1, 2)):
        text = typo(rng, text, op) if text else None
    return (rng.choice(CASES[:3])(text), op) if text else None


def spacing(rng: random.Random, brand: dict) -> tuple[str, str] | None:
    text, style = rng.choice(CASES)(brand["name"]), rng.choice(["split", "split", "each", "each", "trailing"])
    words = text.replace("-", " ").split()
    if style == "trailing":
        return text + rng.choice("-._") + [c for c in text if c.isalnum()][-1], style
    if style == "each":
        sep = rng.choice([".", ".", "-", " ", "_", "*"])
        joined = (" " if sep != " " else "  ").join(sep.join(c for c in w if c.isalnum()) for w in words)
        return joined + (sep if sep == "." and rng.random() < 0.3 else ""), style
    w = rng.randrange(len(words))
    if len(words[w]) < 2:
        return None
    cut = rng.randint(1, len(words[w]) - 1)
    words[w] = words[w][:cut] + rng.choice([" ", " ", "-", "."]) + words[w][cut:]
    return " ".join(words), style


def multiword(rng: random.Random, brand: dict) -> tuple[str, str] | None:
    words = brand["name"].lower().split(" ")
    w = rng.choice([i for i, word in enumerate(words) if len(letters(word)) >= 3] or [0])
    rules = [(a, b) for a, b in PHONETIC if a in words[w]]
    if rng.random() < 0.5 and rules:
        a, b = rng.choice(rules)
        i = rng.choice([i for i in range(len(words[w])) if words[w].startswith(a, i)])
        edited, note = words[w][:i] + b + words[w][i + len(a):], f"{a}->{b}"
    else:
        note = rng.choice(TYPOS)
        edited = typo(rng, words[w], note)
    words[w] = edited or ""
    return (rng.choice(CASES[:3])(" ".join(words)), note) if edited else None


def embedded(rng: random.Random, brand: dict, vocab: list[str]) -> tuple[str, str] | None:
    name = rng.choice(CASES)(brand["name"]).replace(" ", "")
    word = rng.choice([str.lower, str.lower, title, str.upper])(rng.choice(vocab))
    return (name + word, "brand+word") if rng.random() < 0.75 else (word + name, "word+brand")


def honest(rng: random.Random, b: Builder, catalogue: list[dict], bundled: list[tuple[str, int]]) -> None:
    """Ordinary words near a target name, random words and phrases, other bundled brand names."""
    words = [w for w in top_n_list("en", 50000) if w.isalpha() and len(w) >= 2 and zipf(w) >= 2.5]
    targets = {letters(n): c["id"] for c in catalogue for n in [c["name"], *c["aliases"]] if len(letters(n)) >= 2}
    limit = {t: 1 if len(t) <= 3 else 2 for t in targets}
    index: dict[str, set[str]] = {}  # symmetric-delete index: candidates within edit distance 2 without a full scan
    for t in targets:
        for d in deletes(t, limit[t]):
            index.setdefault(d, set()).add(t)

    def nearest(text: str) -> str:
        hits = sorted((osa(text, t, 2), t) for t in {t for d in deletes(text, 2) for t in index.get(d, ())})
        hits = [(d, t) for d, t in hits if 1 <= d <= limit[t]]
        return f"near {targets[hits[0][1]]} d={hits[0][0]}" if hits else ""

    def casing(weights: list[int]) -> Callable[[str], str]:
        return rng.choices(CASES[:3], weights)[0]

    near = {w: note for w in words if (note := nearest(w))}
    for w in rng.sample(sorted(near), min(NEAR_CAP, len(near))):
        b.add("near_word", "honest", casing([2, 3, 5])(w), None, near[w])
    # Diagnostic, not in the headline: rarer real words (Zipf 1.5-2.5) near a target. Some are
    # common misspellings of the brand itself, so neither answer is simply right for them.
    rare = [w for w in top_n_list("en", 200000) if w.isalpha() and len(w) >= 4 and 1.5 <= zipf(w) < 2.5]
    rare_near = {w: note for w in rare if (note := nearest(w))}
    for w in rng.sample(sorted(rare_near), min(NEAR_CAP // 3, len(rare_near))):
        b.add("rare_near_word", "rare", casing([2, 3, 5])(w), None, rare_near[w])
    plain = [w for w in words if w not in near]
    names = [" ".join(n.lower().split()) for c in catalogue for n in [c["name"], *c["aliases"]]]
    phrases = (" ".join(rng.sample(plain[:10000], rng.randint(2, 3))) for _ in range(2 * N_PHRASES))
    phrases = [p for p in phrases if not any(f" {n} " in f" {p} " for n in names)][:N_PHRASES]
    for text in rng.sample(plain, min(N_WORDS, len(plain))) + phrases:
        b.add("word", "honest", casing([1, 3, 6])(text), None)
    others = [n for n, _ in bundled if key(n) not in b.target_keys and len(letters(n)) >= 2]
    close = {n: note for n in others if (note := nearest(letters(n)))}
    rest = [n for n in others if n not in close]
    pairs = [(v, close[n]) for n in sorted(close) for v in (n, n.upper())]
    pairs += [(n, "") for n in rng.sample(rest, max(0, min(len(rest), OTHER_CAP - len(pairs))))]
    for text, note in pairs:
        b.add("other_brand", "honest", text, None, note)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--brands", type=int, default=300)
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "text_set.jsonl")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    bundled = read_bundled()
    catalogue = pick_catalogue(rng, bundled, args.brands)
    b = Builder(catalogue, {key(n) for n, _ in bundled} | {key(a) for c in catalogue for a in c["aliases"]})
    for brand in catalogue:
        variants = list(dict.fromkeys(f(brand["name"]) for f in CASES))
        for text in rng.sample(variants, min(3, len(variants))) + [v for a in brand["aliases"] for v in (a, a.upper())]:
            b.add("correct", "brand", text, brand["id"])
    single = [c for c in catalogue if " " not in c["name"] and "-" not in c["name"] and len(letters(c["name"])) >= 4]
    multi = [c for c in catalogue if len(c["name"].replace("-", " ").split()) >= 2]
    vocab = [w for w in VOCAB if key(w) not in b.bundled_keys]
    by_name = {c["name"]: c for c in catalogue}
    for cls, text, name in CANON:  # the brief's own examples, checked by the same rules
        b.imitation(cls, text, by_name[name], "example")
    b.fill(rng, "lookalike_print", catalogue, lambda c: lookalike(rng, c))
    b.fill(rng, "confusable", catalogue, lambda c: confusable(rng, c))
    for op in TYPOS:
        b.fill(rng, op, single, lambda c, op=op: typos(rng, c, op))
    b.fill(rng, "spacing", catalogue, lambda c: spacing(rng, c))
    b.fill(rng, "multiword", multi, lambda c: multiword(rng, c))
    b.fill(rng, "embedded", [c for c in catalogue if len(letters(c["name"])) >= 3], lambda c: embedded(rng, c, vocab))
    honest(rng, b, catalogue, bundled)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", encoding="utf-8") as out:
        out.write(json.dumps({"catalogue": catalogue}, ensure_ascii=False) + "\n")
        for rows in b.rows.values():
            out.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    short = sum(len(letters(c["name"])) <= 3 for c in catalogue)
    print(f"catalogue: {len(catalogue)} brands ({short} of 2-3 letters, {len(multi)} multi-word) -> {args.out}")
    for cls, rows in b.rows.items():
        print(f"  {cls:22} {rows[0]['label']:10} {len(rows):6}  brands {len({r['brand'] for r in rows} - {None}):4}")
    print(f"  total {sum(map(len, b.rows.values()))}; imitations dropped: {dict(b.dropped)}")


if __name__ == "__main__":
    main()
