"""Crop windows: the trained model runs the trunk once per photo for windows on its cell lattice."""

from __future__ import annotations

import numpy as np
import pytest

from visionguard.decode import decode
from visionguard.embed import SMALL_LOGO_GRID, crop_boxes, embed_images, frame_mark, trim_border
from visionguard.models import TRAINED_MODEL, create_model
from visionguard.models.base import EmbeddingModel
from visionguard.models.lite0_metric import _window_cells
from visionguard.synth import paste_logo, photo

BRANDS = ("adidas", "nike", "puma", "samsung")


@pytest.fixture(scope="module")
def model():
    return create_model(TRAINED_MODEL)


@pytest.fixture(scope="module")
def logo_photos(gallery_dir):
    """Four real photos, each with one brand's logo at a different place and size."""
    from PIL import Image

    placements = [((0.3, 0.3), 0.3), ((0.7, 0.35), 0.35), ((0.35, 0.7), 0.3), ((0.65, 0.65), 0.4)]
    photos = []
    for brand, (centre, size), name in zip(BRANDS, placements, ("coffee", "chelsea", "astronaut", "rocket")):
        logo = Image.open(gallery_dir / brand / "logo_color.png")
        photos.append(np.asarray(paste_logo(photo(name, (800, 800)), logo, size, centre)))
    return photos


def _spy(model, monkeypatch) -> list[str]:
    called: list[str] = []
    original = type(model)._run_batches

    def spy(self, network, batches):
        called.append(network)
        return original(self, network, batches)

    monkeypatch.setattr(type(model), "_run_batches", spy)
    return called


def test_grid_windows_share_one_trunk_pass_and_find_the_same_brand(model, logo_photos, gallery_dir, monkeypatch):
    boxes = [crop_boxes(image.shape[1], image.shape[0]) for image in logo_photos]
    called = _spy(model, monkeypatch)
    shared = model.embed_windows(logo_photos, boxes)
    assert "logo_trunk" in called and "logo_tail" in called and "logo" not in called
    cut = EmbeddingModel.embed_windows(model, logo_photos, boxes)  # each window cut out and resized
    assert shared.shape == cut.shape == (36, model.dim)
    assert np.allclose(np.linalg.norm(shared, axis=1), 1.0, atol=1e-5)
    agreement = np.sum(shared * cut, axis=1)
    assert agreement.mean() > 0.85 and agreement.min() > 0.5  # edge cells see the photo around the window
    gallery = model.embed([decode(gallery_dir / brand / "logo_color.png") for brand in BRANDS])
    for vectors in (shared, cut):  # the best window of each photo matches its own brand either way
        best = (vectors @ gallery.T).reshape(len(BRANDS), 9, len(BRANDS)).max(axis=1)
        assert list(best.argmax(axis=1)) == list(range(len(BRANDS)))


def test_windows_off_the_lattice_are_cut_out(model, logo_photos, monkeypatch):
    odd = logo_photos[0][:577, :801]  # rounding puts the grid a fraction of a cell off: still shared
    images = [logo_photos[1], odd]
    boxes = [crop_boxes(image.shape[1], image.shape[0], SMALL_LOGO_GRID) for image in images]
    shared = model.embed_windows(images, boxes).reshape(2, 25, -1)
    cut = EmbeddingModel.embed_windows(model, images, boxes).reshape(2, 25, -1)
    # the 3x3 half-size windows come from the shared trunk, the 4x4 grid of smaller ones is cut out
    assert np.min(np.sum(shared[:, 9:] * cut[:, 9:], axis=2)) > 0.9999
    assert np.min(np.sum(shared[:, :9] * cut[:, :9], axis=2)) < 0.999


def test_window_cells():
    size, cells = _window_cells((800, 800, 3), crop_boxes(800, 800), 160)
    assert size == (320, 320) and cells == [(col, row) for row in (0, 5, 10) for col in (0, 5, 10)]
    assert _window_cells((577, 801, 3), crop_boxes(801, 577), 160)[0] == (320, 320)
    _, cells = _window_cells((800, 800, 3), [(0, 0, 400, 400), (13, 0, 413, 400), (0, 0, 300, 300)], 160)
    assert cells == [(0, 0), None, None]  # 13 px is a third of a cell off; a smaller window
    assert _window_cells((800, 800, 3), crop_boxes(800, 800), 150) is None  # not whole cells
    assert _window_cells((830, 800, 3), [(0, 0, 400, 400)], 160) is None  # the photo is not
    assert _window_cells((800, 800, 3), [], 160) is None


def test_embed_images_keeps_each_photos_windows(model, logo_photos):
    small = logo_photos[0][:50, :50]  # too small for windows
    embeddings = embed_images(model, [logo_photos[0], small, logo_photos[1]])
    assert [len(e.crops) for e in embeddings] == [9, 0, 9] and [len(e.boxes) for e in embeddings] == [9, 0, 9]
    alone = embed_images(model, [logo_photos[1]])[0]
    assert np.allclose(alone.crops, embeddings[2].crops, atol=1e-5)


def test_trim_border_cuts_flat_frames_only(logo_photos):
    photo_ = logo_photos[0][:300, :400]
    assert trim_border(photo_).shape == photo_.shape  # a photo's own edges are not a frame
    framed = np.pad(photo_, ((30, 12), (0, 45), (0, 0)), constant_values=250)
    assert np.array_equal(trim_border(framed), photo_)
    rng = np.random.default_rng(0)  # a frame with JPEG-like noise (grey level within +-5) is still flat
    noisy = np.clip(framed.astype(int) + rng.integers(-5, 6, framed.shape), 0, 255).astype(np.uint8)
    assert trim_border(noisy).shape == photo_.shape
    wide = np.pad(photo_, ((100, 100), (0, 0), (0, 0)), constant_values=0)  # at most 20% per side is cut
    assert trim_border(wide).shape == (300 + 200 - 2 * int(500 * 0.2), 400, 3)


def _samsung_mark(gallery_dir) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """The demo SAMSUNG logo file (a wordmark centred on a white square) and its mark's box."""
    logo = decode(gallery_dir / "samsung" / "logo_color.png")
    rows, cols = np.nonzero((255 - logo.min(axis=2)) > 24)
    return logo, (cols.min(), rows.min(), cols.max() + 1, rows.max() + 1)


def test_frame_mark_gives_tight_and_loose_logo_files_one_framing(gallery_dir, logo_photos):
    logo, (x0, y0, x1, y1) = _samsung_mark(gallery_dir)
    tight = logo[y0:y1, x0:x1]
    loose = np.pad(tight, ((200, 200), (300, 300), (0, 0)), constant_values=255)
    pad = round(0.15 * (x1 - x0))
    expected = (y1 - y0 + 2 * pad, x1 - x0 + 2 * pad, 3)
    for image in (logo, tight, loose):
        framed = frame_mark(image, 0.15)
        assert framed.shape == expected
        assert (framed[:pad] == 255).all() and (framed[:, -pad:] == 255).all()
    photo_ = logo_photos[1]
    assert frame_mark(photo_, 0.15) is photo_  # a photo's border is not one colour: left as it is


def test_index_frames_gallery_logos_as_the_model_was_trained(gallery_dir, tmp_path):
    """A logo file cropped tight to the mark and one with wide margins index to (nearly) the
    same logo vector; their whole-photo (copy) vectors still come from the files as they are."""
    from PIL import Image

    from visionguard.index import build_index

    logo, (x0, y0, x1, y1) = _samsung_mark(gallery_dir)
    tight = logo[y0:y1, x0:x1]
    files = {"tight": tight, "loose": np.pad(tight, ((150, 150), (150, 150), (0, 0)), constant_values=255)}
    (tmp_path / "g" / "samsung").mkdir(parents=True)
    for name, image in files.items():
        Image.fromarray(image).save(tmp_path / "g" / "samsung" / f"{name}.png")
    index = build_index(tmp_path / "g", tmp_path / "i", model=TRAINED_MODEL)
    logos, products = index.vectors.reconstruct_n(0, 2), index.products.reconstruct_n(0, 2)
    assert float(logos[0] @ logos[1]) > 0.99
    model = create_model(TRAINED_MODEL)
    unframed = model.embed(list(files.values()))
    assert float(unframed[0] @ unframed[1]) < 0.95  # what the index held before framing
    assert float(products[0] @ products[1]) < 0.99


def test_index_add_frames_as_the_index_was_built(gallery_dir, tmp_path):
    """An index built before framing (no margin recorded) gets its new logos unframed too, so
    one index never mixes the two."""
    import json
    import shutil

    from visionguard.index import add_to_index, build_index

    partial = tmp_path / "g"
    shutil.copytree(gallery_dir, partial, ignore=shutil.ignore_patterns("samsung"))
    build_index(partial, tmp_path / "i", model=TRAINED_MODEL)
    meta = json.loads((tmp_path / "i" / "index.json").read_text())
    assert meta["model"]["gallery_margin"] == 0.15
    del meta["model"]["gallery_margin"]  # as an index of an earlier version
    (tmp_path / "i" / "index.json").write_text(json.dumps(meta))
    shutil.copytree(gallery_dir / "samsung", partial / "samsung")
    index, done = add_to_index(partial, tmp_path / "i")
    model = create_model(TRAINED_MODEL)
    first = index.paths.index("samsung/logo_color.png")
    unframed = model.embed([decode(partial / "samsung" / "logo_color.png")])[0]
    assert len(done.added) == 3 and float(index.vectors.reconstruct(first) @ unframed) > 0.999
