"""The first altered-name rule: imitations caught, honest words and real names left alone."""

import pytest

from visionguard.gallery import Brand
from visionguard.results import OcrToken
from visionguard.text import BrandCatalog, align, match_imitation, match_tokens

CATALOG = BrandCatalog(
    [
        Brand("adidas", "adidas"),
        Brand("nike", "Nike"),
        Brand("gucci", "Gucci"),
        Brand("fujifilm", "Fujifilm", ("Fuji",)),
        Brand("samsung", "Samsung"),
        Brand("new-balance", "New Balance", ("NB",)),
        Brand("dell", "Dell"),
        Brand("puma", "Puma"),
    ]
)


@pytest.mark.parametrize(
    "text, brand, change",
    [
        ("ADIBAS", "adidas", "look-alike d->b"),
        ("NIKF", "nike", "look-alike e->f"),
        ("GUCCl", "gucci", "look-alike i->l"),
        ("FUJIFLLM", "fujifilm", "look-alike i->l"),
        ("SAMSUNQ", "samsung", "look-alike g->q"),
        ("5AMSUNG", "samsung", "look-alike s->5"),
        ("ＡＤＩＤＡＳ", "adidas", "characters from another script"),  # fullwidth
        ("ADI DAS", "adidas", "separators inside the name"),
        ("A.D.I.D.A.S", "adidas", "separators inside the name"),
        ("аdidas", "adidas", "characters from another script"),  # Cyrillic а
        ("Samsnug", "samsung", "transposition"),
        ("Adiddas", "adidas", "repetition of 'd'"),
    ],
)
def test_imitations_are_flagged_with_what_changed(text, brand, change):
    found = match_imitation(text, CATALOG)
    assert found is not None, text
    assert found.brand == brand
    assert any(c.startswith(change) for c in found.changes), found.changes


@pytest.mark.parametrize("text", ["Nice", "Deal", "Dwell", "Pure", "Nikon", "Mike", "Tell", "Pump", "hello", "NB1", "Fun"])
def test_honest_words_and_other_brands_are_not_flagged(text):
    assert match_imitation(text, CATALOG) is None


@pytest.mark.parametrize("text, brand", [("adidas", "adidas"), ("NIKE", "nike"), ("new balance", "new-balance"), ("Fuji", "fujifilm")])
def test_correct_spellings_are_mentions_not_imitations(text, brand):
    assert match_imitation(text, CATALOG) is None
    mentions, altered = match_tokens([OcrToken(text, 0.9, (0, 0, 100, 20))], CATALOG)
    assert [m.brand for m in mentions] == [brand] and altered == []


def test_multi_word_brand_across_neighbouring_boxes():
    tokens = [OcrToken("New", 0.9, (0, 0, 60, 20)), OcrToken("Balance", 0.9, (70, 0, 190, 20))]
    mentions, altered = match_tokens(tokens, CATALOG)
    assert [m.brand for m in mentions] == ["new-balance"] and altered == []


def test_split_brand_across_boxes_is_an_imitation():
    tokens = [OcrToken("ADI", 0.9, (0, 0, 60, 20)), OcrToken("DAS", 0.9, (75, 0, 140, 20))]
    mentions, altered = match_tokens(tokens, CATALOG)
    assert mentions == [] and [a.brand for a in altered] == ["adidas"]


def test_alignment_cost_and_description():
    cost, changes, kind = align("adibas", "adidas")
    assert cost == pytest.approx(0.25) and changes == ["look-alike d->b"] and kind == "look-alike"


def test_short_alias_needs_a_confident_read():
    noisy = [OcrToken("NB", 0.3, (0, 0, 30, 20))]
    clear = [OcrToken("NB", 0.95, (0, 0, 30, 20))]
    assert match_tokens(noisy, CATALOG) == ([], [])
    assert [m.brand for m in match_tokens(clear, CATALOG)[0]] == ["new-balance"]
