"""Shared fixtures: the real model, FAISS index and EasyOCR, loaded once per session.

The network is cut for the whole session: anything that tries to download fails the tests.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DEMO_GALLERY = REPO / "indexes" / "demo" / "gallery"


@pytest.fixture(scope="session", autouse=True)
def no_network():
    """Fail loudly if any code path opens a network connection (weights must ship locally)."""
    original = socket.socket.connect

    def refuse(self, address):
        if self.family == socket.AF_UNIX:
            return original(self, address)
        raise RuntimeError(f"network access attempted during tests: {address}")

    socket.socket.connect = refuse
    yield
    socket.socket.connect = original


@pytest.fixture(scope="session")
def gallery_dir() -> Path:
    return DEMO_GALLERY


@pytest.fixture(scope="session")
def index_dir(tmp_path_factory, gallery_dir) -> Path:
    from visionguard import build_index

    out = tmp_path_factory.mktemp("index")
    build_index(gallery_dir, out)
    return out


@pytest.fixture(scope="session")
def scanner(index_dir):
    from visionguard import Scanner

    return Scanner.load(index_dir)


@pytest.fixture(scope="session")
def listings(tmp_path_factory, gallery_dir):
    """The generated listing set: (folder, {file name: ListingSpec})."""
    from visionguard.synth import make_listings

    folder = tmp_path_factory.mktemp("listings")
    specs = make_listings(gallery_dir, folder)
    return folder, {spec.name: spec for spec in specs}


@pytest.fixture(scope="session")
def listing_results(scanner, listings):
    folder, _ = listings
    return {result.path: result for result in scanner.scan_folder(folder)}


@pytest.fixture
def detector_passes(monkeypatch):
    """`detector_passes(ppocr_detector)` -> a list that records the pixels of every pass the
    detector's network makes from then on (how much of a photo a gated detection looked at)."""

    def watch(detector) -> list[int]:
        seen: list[int] = []
        run = detector._boxes

        def counted(picture, postprocess):
            seen.append(picture.shape[0] * picture.shape[1])
            return run(picture, postprocess)

        monkeypatch.setattr(detector, "_boxes", counted)
        return seen

    return watch
