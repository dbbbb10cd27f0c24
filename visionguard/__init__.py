"""VisionGuard: find counterfeit marketplace listings from their photos.

The public names below are imported on first use (PEP 562), so `import visionguard.models`
or `training/` does not pull in FAISS, the OCR engines or the text catalogue.
"""

import os
from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# ONNX Runtime (1.29+) writes a telemetry device id under ~/.cache as soon as it is imported;
# VisionGuard writes nothing to the home directory. Must be set before onnxruntime's import.
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

_EXPORTS = {
    "AlteredName": "visionguard.results",
    "BrandMention": "visionguard.results",
    "DecodeError": "visionguard.errors",
    "GalleryIndex": "visionguard.index",
    "OcrToken": "visionguard.results",
    "ScanResult": "visionguard.results",
    "Scanner": "visionguard.scanner",
    "VisionGuardError": "visionguard.errors",
    "build_index": "visionguard.index",
}

if TYPE_CHECKING:
    from visionguard.errors import DecodeError, VisionGuardError
    from visionguard.index import GalleryIndex, build_index
    from visionguard.results import AlteredName, BrandMention, OcrToken, ScanResult
    from visionguard.scanner import Scanner


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'visionguard' has no attribute {name!r}")


__all__ = [*sorted(_EXPORTS), "__version__"]
