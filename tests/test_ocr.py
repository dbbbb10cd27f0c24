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


def test_real_ocr_reads_like_readtext_and_returns_evidence_per_character(scanner):
    from visionguard.synth import photo, print_text

    image = np.asarray(print_text(photo("coffee"), "SAMSUNG", height_fraction=0.12))
    engine = scanner.ocr_engine
    tokens = engine.read(image)
    reference = [text for _, text, _ in engine.reader.readtext(image)]
    assert [t.text for t in tokens] == reference
    assert "SAMSUNG" in [t.text for t in tokens]
    for token in tokens:
        assert token.alternatives is not None and len(token.alternatives) == len(token.text)
        for options in token.alternatives:
            assert all(isinstance(c, str) and 0.0 <= p <= 1.0 for c, p in options)
