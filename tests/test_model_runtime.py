"""ONNX Runtime and eager torch give the same vectors; the exported graph is cached and reused."""

from __future__ import annotations

import numpy as np
import pytest

from training import data
from visionguard.decode import decode
from visionguard.embed import crop_boxes
from visionguard.errors import VisionGuardError
from visionguard.models import BASELINE_MODEL, TRAINED_MODEL, create_model
from visionguard.models.runtime import cache_dir


@pytest.fixture(scope="module")
def images(gallery_dir):
    photos = [photo[:400, :500] for photo in data.load_photos(None)[:3]]
    return photos + [decode(path) for path in sorted(gallery_dir.rglob("*.png"))[:3]]


@pytest.mark.parametrize("name", [BASELINE_MODEL, TRAINED_MODEL])
def test_onnx_and_torch_agree(name, images, tmp_path, monkeypatch):
    monkeypatch.setenv("VISIONGUARD_CACHE", str(tmp_path))
    onnx, torch = create_model(name, "onnx"), create_model(name, "torch")
    assert np.min(np.sum(onnx.embed(images) * torch.embed(images), axis=1)) > 0.9999
    for fast, reference in zip(onnx.embed_with_products(images), torch.embed_with_products(images)):
        assert fast.shape == reference.shape and np.min(np.sum(fast * reference, axis=1)) > 0.9999
    boxes = [crop_boxes(image.shape[1], image.shape[0]) for image in images]  # the trained model's shared trunk
    assert np.min(np.sum(onnx.embed_windows(images, boxes) * torch.embed_windows(images, boxes), axis=1)) > 0.9999
    # the torch model is never left in training mode by an export (BatchNorm would drift)
    assert not onnx.network.training and not torch.network.training


def test_exported_graph_is_cached_per_weights(images, tmp_path, monkeypatch):
    monkeypatch.setenv("VISIONGUARD_CACHE", str(tmp_path))
    first = create_model(BASELINE_MODEL).embed(images[:2])
    graphs = sorted((cache_dir() / "onnx").glob("*.onnx"))
    assert len(graphs) == 1 and not list((cache_dir() / "onnx").glob("*.partial"))
    stamp = graphs[0].stat().st_mtime_ns
    second = create_model(BASELINE_MODEL).embed(images[:2])
    assert graphs[0].stat().st_mtime_ns == stamp and np.allclose(first, second, atol=1e-6)
    create_model(TRAINED_MODEL).embed(images[:1])  # other weights: another graph beside it
    assert len(list((cache_dir() / "onnx").glob("*.onnx"))) == 2


def test_unknown_runtime_is_one_sentence():
    with pytest.raises(VisionGuardError, match="unknown runtime 'tensorrt'; choose one of: onnx, torch"):
        create_model(BASELINE_MODEL, "tensorrt")
