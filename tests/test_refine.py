"""The second look (refine.py): more windows, only where the first search is unsure."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from visionguard import Scanner
from visionguard.embed import crop_boxes, embed_images
from visionguard.refine import REFINE_GRID, _iou, refine_boxes, unsure
from visionguard.search import SearchThresholds, VisualMatch, search_gallery
from visionguard.synth import paste_logo, photo


@pytest.fixture(scope="module")
def straddling_logo(gallery_dir) -> np.ndarray:
    """The SAMSUNG logo at 30% of the width, centred where the first-pass windows of the 3x3
    grid cut it (found by trying placements on the demo gallery)."""
    logo = Image.open(gallery_dir / "samsung" / "logo_color.png")
    return np.asarray(paste_logo(photo("coffee"), logo, 0.3, (0.25, 0.5)))


def test_second_look_finds_a_logo_the_grid_windows_cut(index_dir, straddling_logo):
    looking = Scanner.load(index_dir, ocr=False)
    thresholds = looking.options.thresholds
    assert thresholds.refine_floor is not None, "the default model's card sets where the second look starts"
    first = search_gallery(looking.index, embed_images(looking.model, [straddling_logo]), thresholds)[0]
    assert first.brand is None and unsure(first, thresholds), (first.brand, first.brand_score)

    without = Scanner.load(index_dir, ocr=False, refine=False).scan_image(straddling_logo)
    assert without.brand is None and "refine" not in without.timings_ms
    found = looking.scan_image(straddling_logo)
    assert found.brand == "samsung" and found.brand_score >= thresholds.logo, (found.brand, found.brand_score)
    assert found.timings_ms["refine"] > 0
    assert any("samsung" in reason.lower() for reason in found.reasons)


def test_a_photo_the_first_search_is_sure_of_gets_no_second_look(index_dir, gallery_dir):
    logo = Image.open(gallery_dir / "samsung" / "logo_color.png")
    framed = np.asarray(paste_logo(photo("coffee"), logo, 0.3, (0.25, 0.25)))  # inside the top-left window
    scanner = Scanner.load(index_dir, ocr=False)
    first = search_gallery(scanner.index, embed_images(scanner.model, [framed]), scanner.options.thresholds)[0]
    assert first.brand == "samsung"
    result = scanner.scan_image(framed)
    assert result.brand == "samsung" and result.brand_score == pytest.approx(first.brand_score)
    assert "refine" not in result.timings_ms


def test_second_look_windows_overlap_the_windows_that_matched():
    image = np.zeros((600, 800, 3), np.uint8)
    grid = crop_boxes(800, 600)
    embedding = type("E", (), {"boxes": grid})()
    scores = np.full(len(grid), 0.3, np.float32)
    assert refine_boxes(image, embedding, scores, floor=0.65) == []  # nothing matched: nowhere to look
    scores[4] = 0.7  # the centre window
    boxes = refine_boxes(image, embedding, scores, floor=0.65)
    assert boxes and all(_iou(box, grid[4]) >= 0.25 for box in boxes)
    assert not set(boxes) & set(grid)
    assert set(boxes) < set(crop_boxes(800, 600, REFINE_GRID))


def test_only_unsure_matches_of_models_with_a_floor_are_looked_at_again():
    calibrated = SearchThresholds(logo=0.78, refine_floor=0.65)
    assert unsure(VisualMatch(brand_score=0.7), calibrated)
    assert not unsure(VisualMatch(brand_score=0.6), calibrated)
    assert not unsure(VisualMatch(brand_score=0.8), calibrated)
    assert not unsure(None, calibrated)
    assert not unsure(VisualMatch(brand_score=0.7), SearchThresholds(logo=0.78))  # no floor: the ImageNet baseline
