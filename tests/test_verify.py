"""Geometric copy verification on real photos (scikit-image samples) and real copy edits."""

from __future__ import annotations

import numpy as np
import pytest

from training import data
from visionguard.embed import trim_border
from visionguard.verify import GALLERY_KEYPOINTS, KeypointStore, extract_keypoints, verify_copy

MIN_INLIERS, MIN_COVERAGE = 15, 0.1  # the search defaults


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
            confirmed += verify_copy(query, stored[i]).confirms(MIN_INLIERS, MIN_COVERAGE)
            for j in range(len(originals)):  # other photos, among them tiles of the same photograph
                if j != i:
                    assert not verify_copy(query, stored[j]).confirms(MIN_INLIERS, MIN_COVERAGE), (i, j)
    assert confirmed >= 14  # of 16 copy edits


def test_a_shared_logo_alone_is_not_a_copy(photos, demo_logos):
    """Two different photos with the same logo match inside the logo only: too small a part."""
    tiles = data.photo_tiles(photos, grid=2)
    logo = next(item for item in demo_logos if item.brand == "puma")
    first, second = _listing(tiles[0], logo, 1), _listing(tiles[5], logo, 1)
    verdict = verify_copy(extract_keypoints(second), extract_keypoints(first, GALLERY_KEYPOINTS))
    assert verdict.coverage < MIN_COVERAGE
    assert not verdict.confirms(MIN_INLIERS, MIN_COVERAGE)


def test_flat_image_has_no_keypoints_and_verifies_nothing():
    flat = np.full((300, 400, 3), 200, np.uint8)
    assert len(extract_keypoints(flat)) == 0
    assert verify_copy(extract_keypoints(flat), extract_keypoints(flat)).inliers == 0


def test_keypoint_store_round_trip_is_memory_mapped(tmp_path, photos):
    items = [extract_keypoints(photo, GALLERY_KEYPOINTS) for photo in photos[:3]] + [extract_keypoints(np.zeros((50, 50, 3), np.uint8))]
    KeypointStore.from_keypoints(items).save(tmp_path)
    loaded = KeypointStore.load(tmp_path, images=len(items))
    assert isinstance(loaded.descriptors, np.memmap)
    assert len(loaded) == 4 and len(loaded[3]) == 0
    for original, back in zip(items, (loaded[i] for i in range(4))):
        assert np.array_equal(original.descriptors, back.descriptors)
        assert np.allclose(original.points, back.points, atol=1e-3)
    with pytest.raises(ValueError):
        KeypointStore.load(tmp_path, images=5)


@pytest.mark.parametrize("shape", [(5, 2048, 3), (1, 1, 3), (40, 4000), (3000, 8, 3)])
def test_slivers_and_specks_have_no_keypoints_rather_than_an_error(shape):
    image = np.random.default_rng(0).integers(0, 255, shape, dtype=np.uint8)
    keypoints = extract_keypoints(image)
    assert len(keypoints) == 0 and verify_copy(keypoints, keypoints).inliers == 0
