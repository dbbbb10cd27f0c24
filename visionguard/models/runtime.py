"""Where a model's network runs: eager torch, or ONNX Runtime.

ONNX Runtime ran the scan's embedding work 3-4.3x faster than eager torch on our 2-core CPU
(`benchmarks/embed_runtime.py`), so it is the default. The ONNX graph is exported by our own
code from the same torch module (no weights are fetched) and cached on disk, keyed by the
weights' checksum and the VisionGuard, torch and onnxruntime versions, so a stale graph is
never reused.
`torch` stays available as the reference path (training, and `--runtime torch`).
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
import warnings
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from visionguard.errors import VisionGuardError

RUNTIMES = ("onnx", "torch")
DEFAULT_RUNTIME = "onnx"
#: Where the networks run. CPU first; "cuda" only when asked for (`check_device` says what is missing).
DEVICES = ("cpu", "cuda")

#: Runs one normalised (N, 3, S, S) float32 batch, returns the network's outputs.
Runner = Callable[[np.ndarray], list[np.ndarray]]


def cache_dir() -> Path:
    """VisionGuard's scratch folder (never the home directory): $VISIONGUARD_CACHE or the temp dir."""
    return Path(os.environ.get("VISIONGUARD_CACHE", Path(tempfile.gettempdir()) / "visionguard-cache"))


def check_device(device: str) -> None:
    """Raise one sentence unless `device` can run every model of a scan here: "cuda" needs a
    CUDA build of torch that sees a GPU (embedding on torch, EasyOCR's recogniser) and
    onnxruntime-gpu (embedding on ONNX Runtime, the PP-OCR text detector)."""
    if device not in DEVICES:
        raise VisionGuardError(f"unknown device '{device}'; choose one of: {', '.join(DEVICES)}")
    if device == "cpu":
        return
    if not torch.cuda.is_available():
        raise VisionGuardError(
            f"device 'cuda' needs a CUDA GPU and a CUDA build of torch, and this torch ({torch.__version__}) sees none"
        )
    import onnxruntime

    if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
        raise VisionGuardError(
            "device 'cuda' needs onnxruntime-gpu (this onnxruntime has no CUDA provider): "
            "pip uninstall onnxruntime && pip install onnxruntime-gpu"
        )


def create_runner(
    runtime: str, module: torch.nn.Module, input_shape: tuple[int, ...], key: str, device: str = "cpu",
    varying: tuple[dict[int, str], dict[int, str]] = ({}, {}),
) -> Runner:
    """A runner for `module` on `runtime` and `device`; `input_shape` is one input without the
    batch axis, (3, S, S) for images; `key` names the weights (e.g. name + checksum).
    `varying`: axes besides the batch whose size changes from call to call, of the input and of
    the outputs, e.g. ({3: "width"}, {1: "steps"}) for a text recogniser that reads lines of any width."""
    module.eval()  # a module left in training mode would update BatchNorm statistics as it runs
    if runtime == "torch":
        return _torch_runner(module, device)
    if runtime == "onnx":
        return _onnx_runner(module, input_shape, key, device, varying)
    raise VisionGuardError(f"unknown runtime '{runtime}'; choose one of: {', '.join(RUNTIMES)}")


def _torch_runner(module: torch.nn.Module, device: str) -> Runner:
    module.to(device)

    def run(batch: np.ndarray) -> list[np.ndarray]:
        with torch.inference_mode():
            outputs = module(torch.from_numpy(batch).to(device))
        outputs = outputs if isinstance(outputs, tuple) else (outputs,)
        return [output.float().cpu().numpy() for output in outputs]

    return run


def onnx_providers(device: str) -> list:
    """ONNX Runtime execution providers for `device`, the CPU always last."""
    return ["CUDAExecutionProvider", "CPUExecutionProvider"] if device == "cuda" else ["CPUExecutionProvider"]


def _onnx_runner(module: torch.nn.Module, input_shape: tuple[int, ...], key: str, device: str,
                 varying: tuple[dict[int, str], dict[int, str]]) -> Runner:
    import onnxruntime

    path = _exported_graph(module.cpu(), input_shape, key, onnxruntime.__version__, varying)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    options.inter_op_num_threads = 1
    # The arena keeps the largest activations ever seen per thread: measured +350 MB peak RSS on a
    # 1,000-photo scan (+430 MB with two scan workers) for no measurable speed. rapidocr does the same.
    options.enable_cpu_mem_arena = False
    session = onnxruntime.InferenceSession(str(path), options, providers=onnx_providers(device))
    input_name = session.get_inputs()[0].name

    def run(batch: np.ndarray) -> list[np.ndarray]:
        return session.run(None, {input_name: np.ascontiguousarray(batch, dtype=np.float32)})

    return run


def _exported_graph(
    module: torch.nn.Module, input_shape: tuple[int, ...], key: str, ort_version: str,
    varying: tuple[dict[int, str], dict[int, str]] = ({}, {}),
) -> Path:
    """The ONNX file of `module`, exported once per weights and library versions."""
    from visionguard import __version__  # the module code is part of the graph, not only the weights

    versions = f"visionguard {__version__}|torch {torch.__version__}|ort {ort_version}"
    shape = "x".join(varying[0].get(axis + 1, str(size)) for axis, size in enumerate(input_shape))
    tag = hashlib.sha256(f"{key}|{shape}|{versions}".encode()).hexdigest()[:20]
    path = cache_dir() / "onnx" / f"{tag}.onnx"
    if path.is_file():
        return path
    buffer = io.BytesIO()
    example = torch.zeros(1, *input_shape)
    with torch.no_grad():
        outputs = module(example)
    names = [f"output{i}" for i in range(len(outputs) if isinstance(outputs, tuple) else 1)]
    with warnings.catch_warnings():  # the exporter's notes on constant folding say nothing to a user
        warnings.simplefilter("ignore")
        _export(module, example, buffer, names, varying)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.partial")
    partial.write_bytes(buffer.getvalue())
    partial.replace(path)  # atomic: concurrent scans never read half a file
    return path


def _export(module: torch.nn.Module, example: torch.Tensor, buffer: io.BytesIO, names: list[str],
            varying: tuple[dict[int, str], dict[int, str]]) -> None:
    torch.onnx.export(
        module,
        (example,),
        buffer,
        dynamo=False,  # the TorchScript exporter: no onnxscript dependency, a plain static graph
        input_names=["images"],
        output_names=names,
        dynamic_axes={"images": {0: "batch", **varying[0]}, **{name: {0: "batch", **varying[1]} for name in names}},
        opset_version=17,
    )
