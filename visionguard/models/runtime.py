"""Where a model's network runs: OpenVINO, ONNX Runtime or eager torch, and in what precision.

ONNX Runtime ran the scan's embedding work 3-4.3x faster than eager torch on our 2-core CPU
(`benchmarks/embed_runtime.py`). OpenVINO (the default) runs the same ONNX graph; in
bfloat16, on a CPU that computes it natively (AVX512-BF16 or AMX), 1.5x faster again
(`precision`, docs/performance.md, "Precision"); ONNX Runtime in float32 is the reference. The ONNX graph
is exported by our own code from the same torch module (no weights are fetched) and cached on
disk, keyed by the weights' checksum and the VisionGuard, torch and onnxruntime versions, so a
stale graph is never reused.
`torch` stays available as the reference path (training, and `--runtime torch`).
"""

from __future__ import annotations

import hashlib
import io
import os
import sys
import tempfile
import threading
import warnings
from functools import lru_cache
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from visionguard.errors import VisionGuardError

RUNTIMES = ("onnx", "openvino", "torch")
#: OpenVINO on a CPU (bfloat16 where the CPU has it: the whole scan 1.18x faster than ONNX
#: Runtime, docs/performance.md, "Precision"); on a GPU it hands the graph to ONNX Runtime's CUDA provider.
DEFAULT_RUNTIME = "openvino"
#: Arithmetic of the OpenVINO networks: "f32", "bf16" (bfloat16 where the CPU computes it
#: natively), or "auto": bf16 where the CPU has it, f32 elsewhere.
PRECISIONS = ("auto", "f32", "bf16")
#: Where the networks run. CPU first; "cuda" only when asked for (`check_device` says what is missing).
DEVICES = ("cpu", "cuda")
#: Held while a graph is exported: torch.onnx.export keeps global state (`_exported_graph`).
_EXPORT_LOCK = threading.Lock()

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


def resolve_precision(precision: str) -> str:
    """"f32" or "bf16" for a requested precision; "auto" is bf16 where the CPU computes it natively."""
    if precision not in PRECISIONS:
        raise VisionGuardError(f"unknown precision '{precision}'; choose one of: {', '.join(PRECISIONS)}")
    if precision == "auto":
        return "bf16" if cpu_has_bf16() else "f32"
    if precision == "bf16" and not cpu_has_bf16():
        raise VisionGuardError("precision bf16 needs a CPU that computes bfloat16 natively (AVX512-BF16 or AMX), and this one does not")
    return precision


@lru_cache(maxsize=1)
def cpu_has_bf16() -> bool:
    """Whether OpenVINO's CPU plugin computes bfloat16 natively here (elsewhere it would emulate it, slower)."""
    return "BF16" in _openvino().Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")


def create_runner(
    runtime: str, module: torch.nn.Module, input_shape: tuple[int, ...], key: str, device: str = "cpu",
    varying: tuple[dict[int, str], dict[int, str]] = ({}, {}), precision: str = "f32",
) -> Runner:
    """A runner for `module` on `runtime` and `device`; `input_shape` is one input without the
    batch axis, (3, S, S) for images; `key` names the weights (e.g. name + checksum).
    `varying`: axes besides the batch whose size changes from call to call, of the input and of
    the outputs, e.g. ({3: "width"}, {1: "steps"}) for a text recogniser that reads lines of any width.
    `precision` ("f32", "bf16" or "auto") applies to OpenVINO, which runs on the CPU only."""
    module.eval()  # a module left in training mode would update BatchNorm statistics as it runs
    if runtime == "torch":
        return _torch_runner(module, device)
    if runtime == "onnx" or (runtime == "openvino" and device != "cpu"):  # on a GPU: ONNX Runtime's CUDA provider
        return _onnx_runner(module, input_shape, key, device, varying)
    if runtime == "openvino":
        import onnxruntime  # only for the exported graph's cache key, shared with the onnx runtime

        path = _exported_graph(module.cpu(), input_shape, key, onnxruntime.__version__, varying)
        return OpenVinoNetwork(path, torch.get_num_threads(), resolve_precision(precision))
    raise VisionGuardError(f"unknown runtime '{runtime}'; choose one of: {', '.join(RUNTIMES)}")


class OpenVinoNetwork:
    """An ONNX network on OpenVINO's CPU plugin: called with one input batch, returns all outputs
    (so it also stands in for rapidocr's ONNX Runtime session).

    For the PP-OCR detector in float32 it gives the same boxes as ONNX Runtime (largest
    difference in the probability map ~5e-5, identical boxes on 200 bench photos) 1.5-1.8x
    faster on this CPU (`benchmarks/ocr_detect.py`; the whole scan 1.3x); in bfloat16 1.6x
    faster again (136.6 -> 83.6 ms per bench photo), its boxes within a few pixels of those.
    One stream per scan worker: concurrent calls on one stream would queue
    (2 workers: 7.3 images/s with one stream, 13.7 with two, ONNX Runtime 8.6).
    """

    def __init__(self, path: Path, threads: int, precision: str = "f32") -> None:
        streams = max(1, len(os.sched_getaffinity(0)) // max(1, threads))  # = the scan's workers
        config = {
            "NUM_STREAMS": streams,
            "INFERENCE_NUM_THREADS": streams * threads,
            "INFERENCE_PRECISION_HINT": precision,
            "ENABLE_CPU_PINNING": False,  # the other networks and the other workers share these cores
            # Kernels cached per input shape: +560 MB peak RSS with --ocr-coarse-side's crops of
            # many shapes, for no measurable speed (docs/performance.md, "Runtimes").
            "CPU_RUNTIME_CACHE_CAPACITY": 0,
        }
        core = _openvino().Core()
        self.precision = precision
        self._compiled = core.compile_model(core.read_model(str(path)), "CPU", config)
        self._outputs = len(self._compiled.outputs)
        self._local = threading.local()  # an infer request serves one thread at a time
        # The first `infer` initialises pybind11's numpy API inside openvino's bindings; two scan
        # workers doing that at once deadlocked (a hung scan: one thread in a static guard, the
        # other in pybind11's call_once). One small inference here, in the one thread that builds
        # the network (`EmbeddingModel._runner` holds a lock; the detector loads before the scan).
        shape = self._compiled.input(0).get_partial_shape()
        warm = [dim.get_length() if dim.is_static else (1 if axis == 0 else 32) for axis, dim in enumerate(shape)]
        self._compiled.create_infer_request().infer({0: np.zeros(warm, np.float32)})

    def __call__(self, batch: np.ndarray) -> list[np.ndarray]:
        request = getattr(self._local, "request", None)
        if request is None:
            request = self._local.request = self._compiled.create_infer_request()
        request.infer({0: np.ascontiguousarray(batch, dtype=np.float32)})
        return [request.get_output_tensor(i).data.copy() for i in range(self._outputs)]


def _openvino():
    """`openvino`, imported without its usage telemetry: `import openvino` sends a usage event
    through openvino-telemetry and writes a client ID under ~/intel; with that module hidden,
    openvino falls back to its own no-op stub."""
    sys.modules.setdefault("openvino_telemetry", None)  # type: ignore[arg-type]
    import openvino

    return openvino


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
    with _EXPORT_LOCK:  # torch.onnx.export keeps global state: threads of a service export one at a time
        if not path.is_file():
            _export_to(path, module, input_shape, varying)
    return path


def _export_to(path: Path, module: torch.nn.Module, input_shape: tuple[int, ...],
               varying: tuple[dict[int, str], dict[int, str]]) -> None:
    buffer = io.BytesIO()
    example = torch.zeros(1, *input_shape)
    with torch.no_grad():
        outputs = module(example)
    names = [f"output{i}" for i in range(len(outputs) if isinstance(outputs, tuple) else 1)]
    with warnings.catch_warnings():  # the exporter's notes on constant folding say nothing to a user
        warnings.simplefilter("ignore")
        _export(module, example, buffer, names, varying)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.partial")  # one exporter per process (the lock)
    partial.write_bytes(buffer.getvalue())
    partial.replace(path)  # atomic: concurrent scans (other processes too) never read half a file


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
