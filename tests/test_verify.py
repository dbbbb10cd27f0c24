"""Copy verification on real photos (scikit-image samples) and real copy edits."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from training import data
from visionguard.embed import trim_border
from visionguard.search import SearchThresholds
from visionguard.verify import GALLERY_KEYPOINTS, THUMBNAIL_SIDE, KeypointStore, best_copy, extract_keypoints, verify_copy

LIMITS = SearchThresholds()  # the scan's defaults


@pytest.fixture(scope="module")
def photos():
    return data.load_photos(None)


@pytest.fixture(scope="module")
def demo_logos(gallery_dir):
    return data.load_image_folder(gallery_dir)


def _listing(photo: np.ndarray, logo, seed: int) -> np.ndarray:
    return data.listing_photo(logo, [photo], np.random.default_rng(seed), size=(640, 480), scale=(0.3, 0.4), plain=0.0)


def test_copy_edits_verify_and_other_photos_do_not(photos):
    tiles = data.photo_tiles(photos, grid=2)
    assert len(tiles) >= 8
    rng = np.random.default_rng(0)
    originals = [_listing(tile, None, i) for i, tile in enumerate(tiles[:8])]
    stored = [extract_keypoints(trim_border(o), GALLERY_KEYPOINTS) for o in originals]
    confirmed = 0
    for i, original in enumerate(originals):
        for _ in range(2):
            query = extract_keypoints(trim_border(data.copy_edit(original, rng)))
            confirmed += verify_copy(query, stored[i]).confirms(LIMITS)
            for j in range(len(originals)):  # other photos, among them tiles of the same photograph
                if j != i:
                    assert not verify_copy(query, stored[j]).confirms(LIMITS), (i, j)
    assert confirmed >= 15  # of 16 copy edits


def test_a_shared_logo_alone_is_not_a_copy(photos, demo_logos):
    """Two different photos with the same logo match inside the logo only: the rest disagrees."""
    tiles = data.photo_tiles(photos, grid=2)
    logo = next(item for item in demo_logos if item.brand == "puma")
    first, second = _listing(tiles[0], logo, 1), _listing(tiles[5], logo, 1)
    verdict = verify_copy(extract_keypoints(second), extract_keypoints(first, GALLERY_KEYPOINTS))
    assert verdict.agreement is not None and verdict.agreement < LIMITS.copy_agreement
    assert not verdict.confirms(LIMITS)


def test_smooth_photo_copies_verify_without_keypoints(photos):
    """A blurred photo has no corners for ORB; the crop search still aligns its copies."""
    rng = np.random.default_rng(3)
    smooth = [cv2.GaussianBlur(_listing(tile, None, i), (0, 0), 12) for i, tile in enumerate(data.photo_tiles(photos, 2)[:6])]
    stored = [extract_keypoints(trim_border(image), GALLERY_KEYPOINTS) for image in smooth]
    for i, original in enumerate(smooth):
        query = extract_keypoints(trim_border(data.copy_edit(original, rng)))
        assert verify_copy(query, stored[i]).confirms(LIMITS), i
        assert not any(verify_copy(query, stored[j]).confirms(LIMITS) for j in range(len(smooth)) if j != i), i


def test_different_logos_on_white_are_not_copies(demo_logos):
    """Logo shots share their white background; only the subject tells them apart."""
    first = {}
    for item in demo_logos:
        first.setdefault(item.brand, item)
    renders = [data.gallery_view(item, "colour", 400) for item in first.values()]
    assert len(renders) >= 5
    stored = [extract_keypoints(trim_border(image), GALLERY_KEYPOINTS) for image in renders]  # as the index
    for i, render in enumerate(renders):
        smaller = cv2.resize(render, (300, 300), interpolation=cv2.INTER_AREA)
        query = extract_keypoints(trim_border(cv2.imdecode(cv2.imencode(".jpg", smaller)[1], cv2.IMREAD_COLOR)))
        assert verify_copy(query, stored[i]).confirms(LIMITS), i
        assert not any(verify_copy(query, stored[j]).confirms(LIMITS) for j in range(len(renders)) if j != i), i


def test_flat_images_compare_by_their_pixels():
    """No keypoints on a flat image: the thumbnails still decide, and a brightness change is
    allowed while another colour is not."""
    grey = np.full((300, 400, 3), 200, np.uint8)
    assert len(extract_keypoints(grey)) == 0
    assert verify_copy(extract_keypoints(grey - 10), extract_keypoints(grey)).confirms(LIMITS)
    red = np.zeros_like(grey)
    red[..., 0] = 200
    assert not verify_copy(extract_keypoints(red), extract_keypoints(grey)).confirms(LIMITS)


def test_best_copy_picks_the_original_and_reports_a_comparison(photos):
    tiles = data.photo_tiles(photos, grid=2)
    originals = [_listing(tile, None, i) for i, tile in enumerate(tiles[:3])]
    stored = [extract_keypoints(trim_border(o), GALLERY_KEYPOINTS) for o in originals]
    query = extract_keypoints(trim_border(data.copy_edit(originals[1], np.random.default_rng(5))))
    found, compared = best_copy(query, [(0, 0.6), (1, 0.5), (2, 0.45)], stored, LIMITS)
    assert compared and found is not None and found[0] == 1 and found[2].agreement >= LIMITS.copy_agreement
    found, compared = best_copy(query, [(0, 0.6), (2, 0.45)], stored, LIMITS)
    assert compared and found is None


def test_without_thumbnails_the_keypoint_rule_decides(photos):
    """Indexes built before thumbnails: inliers and coverage, as before."""
    listings = [_listing(tile, None, 0) for tile in data.photo_tiles(photos, grid=2)[:8]]
    original = max(listings, key=lambda image: len(extract_keypoints(image)))  # the most textured
    full = extract_keypoints(trim_border(original), GALLERY_KEYPOINTS)
    bare = KeypointStore.from_keypoints([full])
    bare = KeypointStore(bare.points, bare.descriptors, bare.offsets, None)
    query = extract_keypoints(cv2.resize(trim_border(original), (400, 300), interpolation=cv2.INTER_AREA))
    verdict = verify_copy(query, bare[0])
    assert verdict.agreement is None and verdict.inliers >= LIMITS.copy_inliers
    assert verdict.confirms(LIMITS)


def test_keypoint_store_round_trip_is_memory_mapped(tmp_path, photos):
    items = [extract_keypoints(photo, GALLERY_KEYPOINTS) for photo in photos[:3]] + [extract_keypoints(np.zeros((50, 50, 3), np.uint8))]
    KeypointStore.from_keypoints(items).save(tmp_path)
    loaded = KeypointStore.load(tmp_path, images=len(items))
    assert isinstance(loaded.descriptors, np.memmap)
    assert len(loaded) == 4 and len(loaded[3]) == 0
    assert isinstance(loaded.thumbnails, np.memmap) and loaded.thumbnails.shape == (4, THUMBNAIL_SIDE, THUMBNAIL_SIDE, 3)
    for original, back in zip(items, (loaded[i] for i in range(4))):
        assert np.array_equal(original.descriptors, back.descriptors)
        assert np.array_equal(original.thumbnail, back.thumbnail)
        assert np.allclose(original.points, back.points, atol=1e-3)
    with pytest.raises(ValueError):
        KeypointStore.load(tmp_path, images=5)


@pytest.mark.parametrize("shape", [(5, 2048, 3), (1, 1, 3), (40, 4000), (3000, 8, 3)])
def test_slivers_and_specks_have_no_keypoints_rather_than_an_error(shape):
    image = np.random.default_rng(0).integers(0, 255, shape, dtype=np.uint8)
    keypoints = extract_keypoints(image)
    assert len(keypoints) == 0 and verify_copy(keypoints, keypoints).inliers == 0
    assert keypoints.thumbnail.shape == (THUMBNAIL_SIDE, THUMBNAIL_SIDE, 3)
