"""VisionGuard: find counterfeit marketplace listings from their photos."""

import os

__version__ = "0.1.0"

# ONNX Runtime (1.29+) writes a telemetry device id under ~/.cache as soon as it is imported;
# VisionGuard writes nothing to the home directory. Must be set before onnxruntime's import.
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

from visionguard.errors import DecodeError, VisionGuardError  # noqa: E402
from visionguard.index import GalleryIndex, build_index  # noqa: E402
from visionguard.results import AlteredName, BrandMention, OcrToken, ScanResult  # noqa: E402
from visionguard.scanner import Scanner  # noqa: E402

__all__ = [
    "AlteredName",
    "BrandMention",
    "DecodeError",
    "GalleryIndex",
    "OcrToken",
    "ScanResult",
    "Scanner",
    "VisionGuardError",
    "__version__",
    "build_index",
]
