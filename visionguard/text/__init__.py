"""Brand names in listing text: correct mentions, and altered spellings that imitate a brand.

    catalog = BrandCatalog(index.brands.values())
    matcher = TextMatcher(catalog)
    matcher.match_text("ADIBAS")        # AlteredName(brand="adidas", changes=["look-alike d->b"])
    matcher.match_tokens(ocr_tokens)    # (mentions, altered) across neighbouring OCR boxes
"""

from visionguard.text.catalog import BrandCatalog, BrandName
from visionguard.text.edits import Alignment, Edit, align
from visionguard.text.matcher import TextMatcher
from visionguard.text.normalize import key, plain, skeleton
from visionguard.text.words import known_brand_names, word_zipf

__all__ = [
    "Alignment",
    "BrandCatalog",
    "BrandName",
    "Edit",
    "TextMatcher",
    "align",
    "key",
    "known_brand_names",
    "plain",
    "skeleton",
    "word_zipf",
]
