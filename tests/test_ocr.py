"""OCR with per-character evidence: same reads as EasyOCR's readtext, plus the runner-up characters."""

import numpy as np
import pytest

from visionguard.ocr import decode_with_alternatives

CHARACTERS = ["[blank]", "5", "S", "A", "M"]


def test_ctc_decoding_keeps_runner_up_characters():
    steps = np.array(
        [
            [0.05, 0.05, 0.85, 0.03, 0.02],  # S
            [0.05, 0.05, 0.85, 0.03, 0.02],  # S again: same character, collapsed
            [0.90, 0.02, 0.04, 0.02, 0.02],  # blank
            [0.05, 0.40, 0.50, 0.03, 0.02],  # S, but the recogniser also saw 5
            [0.05, 0.02, 0.03, 0.88, 0.02],  # A
        ]
    )
    text, confidence, alternatives = decode_with_alternatives(steps, CHARACTERS)
    assert text == "SSA"
    assert alternatives[1][0] == ("5", 0.4)
    assert all(char != "S" for char, _ in alternatives[0])
    expected = np.prod([0.85, 0.85, 0.50, 0.88]) ** (2.0 / np.sqrt(4))  # EasyOCR's confidence formula
    assert confidence == pytest.approx(expected)


def test_empty_read():
    text, confidence, alternatives = decode_with_alternatives(np.array([[0.9, 0.05, 0.05, 0, 0]]), CHARACTERS)
    assert (text, confidence, alternatives) == ("", 0.0, [])


@pytest.fixture(scope="module")
def craft_engine():
    from visionguard.ocr import EasyOcrEngine

    return EasyOcrEngine(detector="craft", recognizer_runtime="torch")  # EasyOCR as installed: readtext works


@pytest.fixture(scope="module")
def ppocr_engine():
    from visionguard.ocr import EasyOcrEngine

    return EasyOcrEngine(detector="ppocr")


def test_real_ocr_reads_like_readtext_and_returns_evidence_per_character(craft_engine):
    from visionguard.synth import photo, print_text

    image = np.asarray(print_text(photo("coffee"), "SAMSUNG", height_fraction=0.12))
    engine = craft_engine
    tokens = engine.read(image)
    reference = [text for _, text, _ in engine.reader.readtext(image)]
    assert [t.text for t in tokens] == reference
    assert "SAMSUNG" in [t.text for t in tokens]
    for token in tokens:
        assert token.alternatives is not None and len(token.alternatives) == len(token.text)
        for options in token.alternatives:
            assert all(isinstance(c, str) and 0.0 <= p <= 1.0 for c, p in options)


def test_ppocr_detector_feeds_the_same_recogniser(ppocr_engine, craft_engine):
    """PP-OCR boxes, read by EasyOCR's recogniser: the same words and per-character evidence,
    boxes in the image's own coordinates, nothing on a plain photo."""
    from visionguard.synth import photo, print_text

    image = np.asarray(print_text(photo("coffee", (1600, 1200)), "ADIBAS Original", height_fraction=0.06, centre=(0.3, 0.7)))
    tokens = ppocr_engine.read(image)
    assert [t.text for t in tokens] == [t.text for t in craft_engine.read(image)] == ["ADIBAS Original"]
    (x0, y0, x1, y1) = tokens[0].box
    assert 0.05 * 1600 < x0 < 0.3 * 1600 < x1 < 0.55 * 1600 and y0 < 0.7 * 1200 < y1  # full-size coordinates
    assert len(tokens[0].alternatives) == len(tokens[0].text)
    assert ppocr_engine.read(np.full((600, 800, 3), 128, np.uint8)) == []


def test_recogniser_on_onnx_runtime_is_easyocrs_float_model(ppocr_engine, craft_engine, tmp_path):
    """The recogniser graph that our code exports computes EasyOCR's own forward pass on its
    float weights; ONNX Runtime gives the same logits, and the default runner (OpenVINO in
    bfloat16 where the CPU has it) the same best character at nearly every step of noise
    lines. The words the default engine reads match EasyOCR's default CPU model (int8 LSTM in
    torch) on printed names and imitations."""
    from pathlib import Path

    import easyocr
    import easyocr_en_models
    import torch

    from visionguard.models.runtime import cpu_has_bf16, create_runner
    from visionguard.ocr import EasyOcrEngine, _recognizer_graph
    from visionguard.synth import photo, print_text

    recognizer = EasyOcrEngine._make_reader(
        easyocr, Path(easyocr_en_models.model_dir()), tmp_path, craft=False, gpu=False, quantize=False
    ).recognizer.eval()  # EasyOCR hands its float model over in training mode
    onnx_graph = create_runner("onnx", _recognizer_graph(recognizer), (1, 64, 256), "test-recogniser", varying=({3: "width"}, {1: "steps"}))
    assert ppocr_engine.recognizer_runtime == ("openvino" if cpu_has_bf16() else "onnx")  # "auto"
    lines = torch.from_numpy(np.random.default_rng(0).uniform(-1, 1, (2, 1, 64, 200)).astype(np.float32))
    for width in (64, 200, 520):  # any width: the exported graph is not fixed to one
        batch = torch.nn.functional.interpolate(lines, size=(64, width))
        with torch.no_grad():
            reference = recognizer(batch, None).numpy()
            assert np.abs(_recognizer_graph(recognizer)(batch).numpy() - reference).max() < 1e-5
        assert np.abs(onnx_graph(batch.numpy())[0] - reference).max() < 1e-3
        assert ppocr_engine._onnx_recognizer is not None
        default = ppocr_engine._onnx_recognizer(batch.numpy())[0]
        assert (default.argmax(axis=2) == reference.argmax(axis=2)).mean() > 0.95  # noise: bfloat16 flips near-ties

    image = photo("coffee", (1200, 900))
    for i, word in enumerate(("SAMSUNG", "FUJIFLLM", "ADIBAS Original", "Nice Deal")):
        image = print_text(image, word, height_fraction=0.06, centre=(0.5, 0.15 + 0.22 * i))
    image = np.asarray(image)
    read = sorted(ppocr_engine.read(image), key=lambda token: token.box[1])
    assert [t.text for t in read] == ["SAMSUNG", "FUJIFLLM", "ADIBAS Original", "Nice Deal"]
    torch_engine = EasyOcrEngine(detector="ppocr", recognizer_runtime="torch")
    assert [t.text for t in sorted(torch_engine.read(image), key=lambda token: token.box[1])] == [t.text for t in read]
    assert all(len(t.alternatives) == len(t.text) for t in read)


def test_ppocr_reads_tilted_text_through_the_warped_path(ppocr_engine):
    from PIL import Image

    from visionguard.synth import print_text

    page = print_text(Image.new("RGB", (900, 500), (235, 235, 230)), "FUJIFLLM", height_fraction=0.14)
    tilted = np.asarray(page.rotate(14, resample=Image.BICUBIC, fillcolor=(235, 235, 230)))
    horizontal, free = ppocr_engine._detect(tilted)
    assert free and not horizontal  # a 14 degree line is warped straight, not boxed
    assert [t.text for t in ppocr_engine.read(tilted)] == ["FUJIFLLM"]


def test_int8_detector_is_made_once_and_finds_the_same_words(ppocr_engine, tmp_path, monkeypatch):
    """The quantised detector is built by our own code from the installed model, cached, and
    reads the same words here (its recall on the image-text benchmark is in the README)."""
    from visionguard.ocr import EasyOcrEngine
    from visionguard.synth import photo, print_text

    monkeypatch.setenv("VISIONGUARD_CACHE", str(tmp_path))
    engine = EasyOcrEngine(detector="ppocr-int8")
    made = list((tmp_path / "ocr").glob("ppocr-det-int8-*.onnx"))
    assert len(made) == 1 and not [p for p in (tmp_path / "ocr").iterdir() if p not in made]  # no scratch left
    stamp = made[0].stat().st_mtime_ns
    EasyOcrEngine(detector="ppocr-int8")
    assert made[0].stat().st_mtime_ns == stamp  # reused, not made again
    image = np.asarray(print_text(photo("coffee", (1600, 1200)), "ADIBAS Original", height_fraction=0.06, centre=(0.3, 0.7)))
    assert [t.text for t in engine.read(image)] == [t.text for t in ppocr_engine.read(image)] == ["ADIBAS Original"]
    assert engine.read(np.full((600, 800, 3), 128, np.uint8)) == []


def test_ocr_detector_mistakes_are_one_sentence(monkeypatch):
    from visionguard import ocr
    from visionguard.errors import VisionGuardError

    with pytest.raises(VisionGuardError, match="unknown OCR detector 'tesseract'; choose one of: ppocr, ppocr-int8, craft"):
        ocr.EasyOcrEngine(detector="tesseract")
    with pytest.raises(VisionGuardError, match="unknown recogniser runtime 'tflite'; choose one of: auto, onnx, openvino, torch"):
        ocr.EasyOcrEngine(recognizer_runtime="tflite")
    monkeypatch.setattr(ocr, "_PPOCR_DET_SHA256", "0" * 64)  # as if the installed file were altered
    with pytest.raises(VisionGuardError, match="fail their SHA-256 check; reinstall rapidocr-onnxruntime"):
        ocr.PpOcrDetector()


def test_openvino_and_onnxruntime_find_the_same_boxes(ppocr_engine):
    """The detector's network on OpenVINO (the CPU default) draws ONNX Runtime's boxes in float32
    and nearly them in bfloat16; two threads at once (scan workers share the detector) get
    their own requests and right answers."""
    from concurrent.futures import ThreadPoolExecutor

    from visionguard.models.runtime import OpenVinoNetwork, cpu_has_bf16
    from visionguard.ocr import PpOcrDetector
    from visionguard.synth import photo, print_text

    images = [
        np.asarray(print_text(photo(name, (800, 600)), word, height_fraction=0.08, centre=centre))
        for name, word, centre in (("coffee", "ADIBAS", (0.3, 0.3)), ("rocket", "Nice Deal", (0.6, 0.7)), ("brick", "FUJIFLLM", (0.5, 0.5)))
    ]
    assert isinstance(ppocr_engine._ppocr._detector.infer, OpenVinoNetwork)
    openvino = PpOcrDetector(precision="f32")
    reference = PpOcrDetector(engine="onnxruntime")
    with ThreadPoolExecutor(2) as pool:
        found = list(pool.map(openvino.detect, images * 2))
    expected_boxes = [reference.detect(image) for image in images]
    for boxes, expected in zip(found, expected_boxes * 2):
        assert len(boxes) == len(expected) >= 1
        assert all(np.abs(a - b).max() < 1.0 for a, b in zip(boxes, expected))
    if cpu_has_bf16():  # bfloat16 (the default where the CPU has it): the same words, boxes within a few pixels
        for boxes, expected in zip(map(PpOcrDetector(precision="bf16").detect, images), expected_boxes):
            assert len(boxes) == len(expected)
            assert all(np.abs(a - b).max() <= 4.0 for a, b in zip(boxes, expected))
    from visionguard.errors import VisionGuardError

    with pytest.raises(VisionGuardError, match="unknown detector engine 'tensorrt'; choose openvino or onnxruntime"):
        PpOcrDetector(engine="tensorrt")


@pytest.fixture(scope="module")
def coarse_engine():
    from visionguard.ocr import EasyOcrEngine

    return EasyOcrEngine(detector="ppocr", coarse_side=480)


def test_coarse_to_fine_detection_reads_the_same_words_from_a_fraction_of_the_pixels(coarse_engine, ppocr_engine, detector_passes):
    """Text found on the photo shrunk to 480 px, then detected at full size only around it:
    the same words as one full-size pass, the detector seeing fewer pixels (here ~60%)."""
    from visionguard.synth import photo, print_text

    image = print_text(photo("coffee", (1600, 1200)), "ADIBAS Original", height_fraction=0.06, centre=(0.3, 0.7))
    image = np.asarray(print_text(image, "NIKF", height_fraction=0.08, centre=(0.75, 0.2)))
    seen = detector_passes(coarse_engine._ppocr)
    tokens = coarse_engine.read(image)
    assert sorted(t.text for t in tokens) == sorted(t.text for t in ppocr_engine.read(image)) == ["ADIBAS Original", "NIKF"]
    full_pass = 960 * 720  # OCR shrinks 1600x1200 to 1280x960, the detector works at 960 px
    assert len(seen) >= 3 and sum(seen) < 0.7 * full_pass
    seen.clear()
    assert coarse_engine.read(np.full((600, 800, 3), 128, np.uint8)) == []
    assert len(seen) == 1  # nothing proposed: no full-size pass at all


def test_text_regions_are_padded_merged_and_clipped():
    from visionguard.ocr import _text_regions, _widened

    def box(x0, y0, x1, y1):
        return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float32)

    # two words on one line merge; a far one stays apart; padding stops at the image's edge
    regions = _text_regions([box(100, 100, 200, 120), box(230, 102, 300, 121), box(700, 500, 790, 540)], 800, 600)
    assert regions == [(60, 80, 338, 140), (620, 460, 800, 580)]
    # a box reaching a region's right side widens it by its width; the image's edge stops it
    assert _widened((100, 50, 300, 150), [box(120, 80, 298, 110)], 800) == (100, 50, 500, 150)
    assert _widened((100, 50, 300, 150), [box(120, 80, 298, 110)], 300) == (100, 50, 300, 150)
    assert _widened((100, 50, 300, 150), [box(150, 80, 250, 110)], 800) == (100, 50, 300, 150)


def test_coarse_detection_mistakes_are_one_sentence():
    from visionguard import ocr
    from visionguard.errors import VisionGuardError

    with pytest.raises(VisionGuardError, match="coarse-to-fine text detection needs a ppocr detector, not craft"):
        ocr.EasyOcrEngine(detector="craft", coarse_side=480)
    with pytest.raises(VisionGuardError, match="coarse text-detection size must be between 32 and 959 pixels, not 960"):
        ocr.PpOcrDetector(coarse_side=960)


def test_a_smaller_detection_size_reads_large_words_from_the_full_photo(ppocr_engine, detector_passes):
    """--ocr-side: the detector sees the photo shrunk to 512 px, its boxes come back in the
    photo's coordinates (close to the full-size pass's), and the recogniser reads the words
    from the photo itself, so large words read the same."""
    from visionguard.ocr import EasyOcrEngine
    from visionguard.synth import photo, print_text

    image = print_text(photo("coffee", (1000, 800)), "ADIBAS Original", height_fraction=0.07, centre=(0.35, 0.7))
    image = np.asarray(print_text(image, "NIKF", height_fraction=0.09, centre=(0.75, 0.25)))
    small = EasyOcrEngine(detect_side=512)
    seen = detector_passes(small._ppocr)
    tokens = small.read(image)
    assert seen == [512 * 410]  # one pass, on the 1000x800 photo shrunk to 512x410
    full = ppocr_engine.read(image)
    assert sorted(t.text for t in tokens) == sorted(t.text for t in full) == ["ADIBAS Original", "NIKF"]
    for token in tokens:
        twin = next(t for t in full if t.text == token.text)
        (x0, y0, x1, y1), (u0, v0, u1, v1) = token.box, twin.box  # full-photo pixels, not the detector's
        inter = max(0, min(x1, u1) - max(x0, u0)) * max(0, min(y1, v1) - max(y0, v0))
        assert inter / ((x1 - x0) * (y1 - y0) + (u1 - u0) * (v1 - v0) - inter) >= 0.7  # a little looser at 512 px


def test_detection_size_mistakes_are_one_sentence():
    from visionguard import ocr
    from visionguard.errors import VisionGuardError

    with pytest.raises(VisionGuardError, match="text-detection size must be a whole number of at least 32 pixels, not 16"):
        ocr.PpOcrDetector(max_side=16)
    with pytest.raises(VisionGuardError, match=r"a text-detection size \(--ocr-side\) needs a ppocr detector, not craft"):
        ocr.EasyOcrEngine(detector="craft", detect_side=640)


@pytest.mark.skipif(not __import__("torch").cuda.is_available(), reason="needs a CUDA GPU")
def test_ocr_on_cuda_reads_the_same_words(ppocr_engine):
    from visionguard.ocr import EasyOcrEngine
    from visionguard.synth import photo, print_text

    image = np.asarray(print_text(photo("coffee", (1600, 1200)), "ADIBAS Original", height_fraction=0.06, centre=(0.3, 0.7)))
    assert [t.text for t in EasyOcrEngine(device="cuda").read(image)] == [t.text for t in ppocr_engine.read(image)]


def test_a_second_reader_withdraws_a_misread_name_and_keeps_a_printed_imitation(ppocr_engine):
    """EasyOCR misreads some stylised wordmarks into imitations ("FUJHILM"); PP-OCR's
    recogniser, asked about the flagged box only, reads the genuine name there and the flag
    becomes a mention, while a printed "FUJFILM" (also a typo, so also asked) is read as printed
    and stays flagged."""
    from dataclasses import replace

    from visionguard.gallery import Brand
    from visionguard.synth import photo, print_text
    from visionguard.text import BrandCatalog, TextMatcher

    image = print_text(photo("coffee", (800, 600)), "FUJIFILM", height_fraction=0.08, centre=(0.5, 0.25))
    image = np.asarray(print_text(image, "FUJFILM", height_fraction=0.08, centre=(0.5, 0.75)))
    tokens = sorted(ppocr_engine.read(image), key=lambda token: token.box[1])
    assert [token.text for token in tokens] == ["FUJIFILM", "FUJFILM"]
    tokens[0] = replace(tokens[0], text="FUJHILM")  # the first reader's slip on a wordmark
    matcher = TextMatcher(BrandCatalog([Brand("fujifilm", "Fujifilm", ("Fuji",)), Brand("nike", "Nike")]))
    mentions, altered = matcher.match_tokens(tokens)
    assert mentions == [] and [a.text for a in altered] == ["FUJHILM", "FUJFILM"]
    assert altered[0].box == tokens[0].box

    mentions, altered = matcher.confirm_altered(mentions, altered, lambda box: ppocr_engine.second_reader.read(image, box))
    assert [(m.text, m.brand) for m in mentions] == [("FUJIFILM", "fujifilm")]
    assert [(a.text, a.brand) for a in altered] == [("FUJFILM", "fujifilm")]
