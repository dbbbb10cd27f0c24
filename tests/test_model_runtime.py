"""ONNX Runtime, OpenVINO and eager torch give the same vectors (bfloat16: nearly); the exported graph is cached and reused."""

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


def test_openvino_gives_onnx_runtimes_vectors(images, tmp_path, monkeypatch):
    """OpenVINO runs the same exported graph: in float32 the same vectors as ONNX Runtime; in
    bfloat16 (where the CPU computes it natively) close ones, every network of the scan."""
    from visionguard.models import runtime

    monkeypatch.setenv("VISIONGUARD_CACHE", str(tmp_path))
    boxes = [crop_boxes(image.shape[1], image.shape[0]) for image in images]
    onnx = create_model(TRAINED_MODEL, "onnx")
    reference = (*onnx.embed_with_products(images), onnx.embed_windows(images, boxes), onnx.embed(images))
    for precision, least, mean in (("f32", 0.9999, 0.9999), ("bf16", 0.98, 0.995)):
        if precision == "bf16" and not runtime.cpu_has_bf16():
            continue
        model = create_model(TRAINED_MODEL, "openvino").use_runtime("openvino", precision)
        found = (*model.embed_with_products(images), model.embed_windows(images, boxes), model.embed(images))
        for fast, slow in zip(found, reference):
            cosines = np.sum(fast * slow, axis=1)
            assert fast.shape == slow.shape and cosines.min() > least and cosines.mean() > mean, precision
        assert {type(run).__name__ for run in model._runners.values()} == {"OpenVinoNetwork"}
        assert {run.precision for run in model._runners.values()} == {precision}


def test_precision_mistakes_are_one_sentence(monkeypatch):
    from visionguard.models import runtime

    with pytest.raises(VisionGuardError, match="unknown precision 'fp8'; choose one of: auto, f32, bf16"):
        create_model(BASELINE_MODEL).use_runtime("openvino", "fp8")
    monkeypatch.setattr(runtime, "cpu_has_bf16", lambda: False)  # as on a CPU without bfloat16
    assert runtime.resolve_precision("auto") == "f32"
    with pytest.raises(VisionGuardError, match="precision bf16 needs a CPU that computes bfloat16 natively"):
        runtime.resolve_precision("bf16")


def test_unknown_runtime_is_one_sentence():
    from visionguard.cli import _DEFAULT_RUNTIME
    from visionguard.models import DEFAULT_RUNTIME

    assert _DEFAULT_RUNTIME == DEFAULT_RUNTIME  # the CLI's default, written out so that --help need not import torch
    with pytest.raises(VisionGuardError, match="unknown runtime 'tensorrt'; choose one of: onnx, openvino, torch"):
        create_model(BASELINE_MODEL, "tensorrt")


def test_device_reaches_the_runners(images, monkeypatch):
    """The device travels to every runner: ONNX Runtime providers, torch module placement."""
    from visionguard.models import runtime

    assert runtime.onnx_providers("cpu") == ["CPUExecutionProvider"]
    assert runtime.onnx_providers("cuda") == ["CUDAExecutionProvider", "CPUExecutionProvider"]
    seen: list[str] = []
    create = runtime.create_runner

    def spy(runtime_name, module, input_shape, key, device="cpu", precision="f32"):
        seen.append(device)
        return create(runtime_name, module, input_shape, key, device, precision=precision)

    monkeypatch.setattr("visionguard.models.base.create_runner", spy)
    model = create_model(TRAINED_MODEL, "torch").use_device("cpu")
    model.embed_with_products(images[:2])
    model.embed_windows(images[:2], [crop_boxes(image.shape[1], image.shape[0]) for image in images[:2]])
    assert seen == ["cpu"] * 3  # photo, logo trunk, logo tail
    with pytest.raises(VisionGuardError, match="unknown device 'tpu'; choose one of: cpu, cuda"):
        model.use_device("tpu")


def test_scan_workers_share_one_session_per_network(images, monkeypatch):
    """Two scan workers starting together build each network's session once, not once each."""
    import threading
    import time

    from visionguard.models import runtime

    built: list[str] = []
    create = runtime.create_runner

    def slow(runtime_name, module, input_shape, key, device="cpu", precision="f32"):
        built.append(key.rsplit("|", 1)[-1])
        time.sleep(0.2)  # as long as a real session takes to build: the other worker arrives meanwhile
        return create(runtime_name, module, input_shape, key, device, precision=precision)

    monkeypatch.setattr("visionguard.models.base.create_runner", slow)
    model = create_model(TRAINED_MODEL)
    start = threading.Barrier(2)

    def worker() -> None:
        start.wait()
        model.embed_with_products(images[:2])

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert built == ["photo"]


@pytest.mark.skipif(not __import__("torch").cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("runtime_name", ["onnx", "torch"])
def test_cuda_vectors_match_the_cpu(images, runtime_name):
    cpu, gpu = create_model(TRAINED_MODEL, runtime_name), create_model(TRAINED_MODEL, runtime_name).use_device("cuda")
    boxes = [crop_boxes(image.shape[1], image.shape[0]) for image in images]
    assert np.min(np.sum(cpu.embed_windows(images, boxes) * gpu.embed_windows(images, boxes), axis=1)) > 0.999
    for fast, reference in zip(gpu.embed_with_products(images), cpu.embed_with_products(images)):
        assert np.min(np.sum(fast * reference, axis=1)) > 0.999
