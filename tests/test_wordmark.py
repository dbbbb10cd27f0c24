"""Printed words that look like a wordmark logo are not that logo (wordmark.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from visionguard import Scanner, build_index
from visionguard.gallery import Brand
from visionguard.results import OcrToken
from visionguard.scanner import ScanOptions
from visionguard.synth import font, paste_logo, photo, print_text
from visionguard.wordmark import foreign_tokens, paint_over


@pytest.fixture(scope="module")
def printed_new_balance() -> np.ndarray:
    """A printed "New Balance" that the logo model alone takes for the SAMSUNG wordmark."""
    return np.asarray(print_text(photo("coffee", (800, 800)), "New Balance", 0.06, centre=(0.5, 0.3)))


def test_printed_words_are_not_the_wordmark_they_resemble(index_dir, scanner, printed_new_balance):
    assert Scanner.load(index_dir, ocr=False).scan_image(printed_new_balance).brand == "samsung"  # the logo model alone
    unchecked = Scanner(scanner.index, scanner.model, ScanOptions(wordmark_check=False), ocr_engine=scanner.ocr_engine)
    assert unchecked.scan_image(printed_new_balance).brand == "samsung"

    result = scanner.scan_image(printed_new_balance)
    assert result.brand == "new-balance" and result.brand_source == "text", (result.brand, result.reasons)
    assert any("Samsung logo match" in r and "set aside" in r and "New Balance" in r for r in result.reasons), result.reasons
    assert "wordmark" in result.timings_ms


def test_demo_logos_keep_their_brand_with_ocr_on(listing_results, listings):
    _, specs = listings
    logos = [name for name in specs if name.startswith("logo_")]
    assert logos
    for name in logos:
        result = listing_results[name]
        assert result.brand == specs[name].brand and not any("set aside" in r for r in result.reasons), result.reasons


def test_only_confident_words_that_are_no_part_of_the_brand_name_count():
    fujifilm, samsung = Brand("fujifilm", "Fujifilm", ("Fuji",)), Brand("samsung", "Samsung")
    window = (0, 0, 400, 400)

    def token(text: str, confidence: float = 0.9, box=(50, 50, 200, 90)) -> OcrToken:
        return OcrToken(text, confidence, box)

    assert foreign_tokens([token("New Balance")], window, samsung)
    assert foreign_tokens([token("Original")], window, fujifilm)
    assert not foreign_tokens([token("FUJHFILM")], window, fujifilm)  # its own name, misread
    assert not foreign_tokens([token("FUJI")], window, fujifilm)  # an alias
    assert not foreign_tokens([token("Ai"), token("73")], window, samsung)  # bits of logo graphics
    assert not foreign_tokens([token("WWW", 0.03)], window, samsung)  # read with no confidence
    assert not foreign_tokens([token("New Balance", box=(500, 500, 700, 540))], window, samsung)  # outside the window
    assert foreign_tokens([token("NIKE", box=(350, 250, 490, 300))], window, fujifilm)  # cut by the window's edge
    assert not foreign_tokens([token("NIKE", box=(380, 250, 520, 300))], window, fujifilm)  # a sliver inside
    assert foreign_tokens([token("New Balance", 0.37)], window, samsung)  # long words: a lower floor
    assert not foreign_tokens([token("Sale", 0.37)], window, samsung)


def test_paint_over_fills_a_box_with_the_colour_around_it():
    crop = np.full((100, 200, 3), 240, np.uint8)
    crop[40:60, 50:150] = 10  # dark "text" on a light plate
    painted = paint_over(crop, [(50, 40, 150, 60)])
    assert (painted == 240).all() and (crop[40:60, 50:150] == 10).all()


def _mark_with_other_text() -> Image.Image:
    """A logo that says another name than its brand's, as the AppGallery logo says HUAWEI."""
    mark = Image.new("RGBA", (256, 256), (0, 0, 0, 0))
    draw = ImageDraw.Draw(mark)
    draw.rounded_rectangle((8, 8, 248, 248), 48, outline=(20, 20, 20, 255), width=6)
    draw.arc((98, 40, 158, 90), 0, 180, fill=(20, 20, 20, 255), width=6)
    draw.text((128, 150), "HUAWEI", font=font(46), fill=(20, 20, 20, 255), anchor="mm")
    return mark


def test_text_in_the_brands_own_logo_is_not_printed_text(tmp_path, gallery_dir):
    gallery = tmp_path / "gallery"
    (gallery / "appgallery").mkdir(parents=True)
    _mark_with_other_text().save(gallery / "appgallery" / "logo.png")
    shutil.copytree(Path(gallery_dir) / "samsung", gallery / "samsung")
    listing = np.asarray(paste_logo(photo("brick", (800, 800)), _mark_with_other_text(), 0.4, (0.4, 0.45)).convert("RGB"))

    index = build_index(gallery, tmp_path / "index")
    assert index.logo_text == {"appgallery": ["HUAWEI"], "samsung": ["SAMSUNG"]}  # read by OCR at build
    result = Scanner.load(tmp_path / "index").scan_image(listing)
    assert result.brand == "appgallery" and result.brand_source == "logo", result.reasons
    assert any(token.text == "HUAWEI" for token in result.ocr)  # read, and known as the logo's own

    build_index(gallery, tmp_path / "unread", read_logo_text=False)
    result = Scanner.load(tmp_path / "unread").scan_image(listing)
    assert result.brand is None and any("set aside" in r and "HUAWEI" in r for r in result.reasons), result.reasons
