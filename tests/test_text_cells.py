"""The text-cell gate (`--text-cells`): the default model's probe on its logo trunk says where
text may be; the detector then runs only there, and not at all where the probe sees none."""

import json
import shutil

import numpy as np
import pytest

from visionguard.embed import crop_boxes, embed_images
from visionguard.errors import VisionGuardError


@pytest.fixture(scope="module")
def model():
    from visionguard.models import create_model

    return create_model()


@pytest.fixture(scope="module")
def ppocr_engine():
    from visionguard.ocr import EasyOcrEngine

    return EasyOcrEngine(detector="ppocr")


def _cells_of(box, shape, cells):
    """The cells a pixel box overlaps, as a bool mask of `cells`' shape."""
    rows, cols = cells.shape
    mask = np.zeros_like(cells)
    x0, y0, x1, y1 = box
    mask[int(y0 * rows / shape[0]) : int(np.ceil(y1 * rows / shape[0])), int(x0 * cols / shape[1]) : int(np.ceil(x1 * cols / shape[1]))] = True
    return mask


def test_the_probe_marks_printed_words_and_the_gated_detector_reads_them(model, ppocr_engine, detector_passes):
    from visionguard.synth import photo, print_text

    image = print_text(photo("brick", (800, 800)), "ADIBAS Original", height_fraction=0.06, centre=(0.3, 0.15))
    image = np.asarray(print_text(image, "NIKF", height_fraction=0.08, centre=(0.75, 0.3)))
    cells = embed_images(model, [image])[0].text_cells
    assert cells is not None and cells.shape == (20, 20) and cells.dtype == bool
    full = ppocr_engine.read(image)
    assert sorted(t.text for t in full) == ["ADIBAS Original", "NIKF"]
    for token in full:  # every word's cells touched by the probe, and the probe is not marking everything
        assert (cells & _cells_of(token.box, image.shape, cells)).any()
    assert cells.mean() < 0.5

    seen = detector_passes(ppocr_engine._ppocr)
    gated = ppocr_engine.read(image, text_cells=cells)
    assert sorted(t.text for t in gated) == ["ADIBAS Original", "NIKF"]
    assert 0 < sum(seen) < 0.6 * 800 * 800  # the detector saw a fraction of the photo
    seen.clear()
    assert ppocr_engine.read(image, text_cells=np.zeros((20, 20), bool)) == []
    assert seen == []  # no cell marked: no detection at all


def test_a_plain_photo_marks_no_cell(model):
    cells = embed_images(model, [np.full((800, 800, 3), 128, np.uint8)])[0].text_cells
    assert cells is not None and not cells.any()


def test_cell_regions_are_full_width_bands_around_the_marked_rows():
    from visionguard.ocr import _cell_regions

    cells = np.zeros((20, 20), bool)
    cells[5, 3] = cells[5, 4] = True  # one word over two cells
    cells[7, 15] = True  # a row apart after growing: joined with the first band
    cells[15, 15] = True  # another far below
    assert _cell_regions(cells, 800, 400) == [(0, 80, 800, 180), (0, 280, 800, 340)]  # rows 4-8 and 14-16, 20 px each
    cells[0, 0] = cells[19, 19] = True  # grown bands stop at the photo's edges
    assert _cell_regions(cells, 800, 400)[0] == (0, 0, 800, 40) and _cell_regions(cells, 800, 400)[-1] == (0, 360, 800, 400)


def test_models_without_a_probe_say_so(index_dir):
    from visionguard.models import BASELINE_MODEL, create_model
    from visionguard.scanner import Scanner

    baseline = create_model(BASELINE_MODEL)
    image = np.full((640, 640, 3), 90, np.uint8)
    assert baseline.embed_windows_and_text([image], [crop_boxes(640, 640)])[1] == [None]
    with pytest.raises(VisionGuardError, match="needs a ppocr detector in one pass"):
        Scanner.load(index_dir, text_cells=True, ocr_coarse_side=480)
    scanner = Scanner.load(index_dir)
    without = create_model()
    without.text_probe = None  # as a model trained without one
    assert without.embed_windows_and_text([image], [crop_boxes(640, 640)])[1] == [None]
    with pytest.raises(VisionGuardError, match="has no text-cell probe"):
        Scanner(scanner.index, without, type(scanner.options)(text_cells=True))


def test_a_probe_that_differs_from_its_card_is_refused(tmp_path):
    from visionguard.models.lite0_metric import TrainedLite0, packaged_weights

    source = packaged_weights("visionguard-lite0-v2")
    for path in source.parent.glob(source.stem + ".*"):
        shutil.copy(path, tmp_path / path.name)
    copy = tmp_path / source.name
    assert TrainedLite0(copy).text_probe is not None
    probe = tmp_path / json.loads(copy.with_suffix(".json").read_text())["text_cells"]["file"]
    probe.write_bytes(probe.read_bytes()[:-4] + b"\0\0\0\0")
    with pytest.raises(VisionGuardError, match="text-cell probe .* missing or differs from its card"):
        TrainedLite0(copy)
