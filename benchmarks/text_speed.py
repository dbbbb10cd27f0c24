"""How fast the altered-name matcher is against a 5,000-brand catalogue.

    .venv/bin/python benchmarks/text_speed.py [--brands 5000] [--tokens 200000]

Catalogue: every bundled real brand name (about 3,700) as targets, topped up to --brands with
invented pronounceable names. Token stream: what OCR of listings yields: English words drawn by
their real frequency (wordfreq), numbers and sizes, brand names, and imitations (5%).

Prints tokens/s for the stream (repeated tokens hit the matcher's cache, as in a real scan),
for distinct tokens only (no cache help), and for the baseline this replaces: weighted edit
distance against every catalogue name, timed on a small sample in the same run.
"""

from __future__ import annotations

import argparse
import random
import string
import time

from wordfreq import top_n_list

from visionguard.gallery import Brand
from visionguard.text import BrandCatalog, TextMatcher, align, key, known_brand_names


def invented_names(count: int, rng: random.Random, taken: set[str]) -> list[str]:
    syllables = [c + v for c in "bcdfghklmnprstvz" for v in "aeiou"]
    names: list[str] = []
    while len(names) < count:
        name = "".join(rng.choice(syllables) for _ in range(rng.randint(2, 4))).capitalize()
        if name.lower() not in taken:
            taken.add(name.lower())
            names.append(name)
    return names


def imitation(name: str, rng: random.Random) -> str:
    chars = list(name)
    i = rng.randrange(len(chars))
    swap = {"o": "0", "i": "1", "s": "5", "a": "4", "e": "3", "d": "b", "g": "q"}
    choice = rng.random()
    if choice < 0.4 and chars[i].lower() in swap:
        chars[i] = swap[chars[i].lower()]
    elif choice < 0.7:
        chars.insert(i, chars[i])
    else:
        chars[i] = rng.choice(string.ascii_lowercase)
    return "".join(chars)


def token_stream(names: list[str], count: int, rng: random.Random) -> list[str]:
    words = top_n_list("en", 30000)
    weights = [1.0 / (rank + 10) for rank in range(len(words))]  # Zipf-like, as in real text
    stream: list[str] = []
    picks = rng.choices(words, weights, k=count)
    for word in picks:
        roll = rng.random()
        if roll < 0.05:
            stream.append(imitation(rng.choice(names), rng))
        elif roll < 0.08:
            stream.append(rng.choice(names))
        elif roll < 0.13:
            stream.append(rng.choice(["42", "XL", "100%", "$19.99", "2024", "No.7", "M", "cm"]))
        else:
            stream.append(word.capitalize() if rng.random() < 0.3 else word)
    return stream


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--brands", type=int, default=5000)
    parser.add_argument("--tokens", type=int, default=200_000)
    parser.add_argument("--baseline-sample", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)

    names = list(dict.fromkeys(known_brand_names()))[: args.brands]
    names += invented_names(args.brands - len(names), rng, {n.lower() for n in names})
    started = time.perf_counter()
    catalog = BrandCatalog([Brand(name, name) for name in names], other_brands=[])
    matcher = TextMatcher(catalog)
    matcher.match_text("warm up")  # loads the word list
    build_s = time.perf_counter() - started
    stream = token_stream(names, args.tokens, rng)
    distinct = list(dict.fromkeys(stream))

    started = time.perf_counter()
    flagged = sum(1 for token in stream if matcher.match_text(token) is not None)
    stream_rate = len(stream) / (time.perf_counter() - started)

    fresh = TextMatcher(catalog)
    fresh.match_text("warm up")
    started = time.perf_counter()
    for token in distinct:
        fresh.match_text(token)
    distinct_rate = len(distinct) / (time.perf_counter() - started)

    sample = rng.sample(distinct, min(args.baseline_sample, len(distinct)))
    keys = [n.key for n in catalog.names]
    started = time.perf_counter()
    for token in sample:
        token_key = key(token)
        min((align(token_key, k).cost for k in keys if abs(len(k) - len(token_key)) <= 2), default=None)
    baseline_rate = len(sample) / (time.perf_counter() - started)

    print(f"catalogue: {len(catalog.brands)} brands, {len(catalog.names)} names; built in {build_s:.2f} s")
    print(f"stream: {len(stream):,} tokens, {len(distinct):,} distinct, {flagged:,} matched (mentions + imitations)")
    print(f"{'what':<44}{'tokens/s':>12}")
    print(f"{'matcher, token stream (cache on)':<44}{stream_rate:>12,.0f}")
    print(f"{'matcher, distinct tokens only (cold)':<44}{distinct_rate:>12,.0f}")
    print(f"{'baseline: edit distance to every name':<44}{baseline_rate:>12,.1f}")
    print(f"speed-up over baseline (distinct tokens): {distinct_rate / baseline_rate:,.0f}x")


if __name__ == "__main__":
    main()
