"""Make `import torchvision` work with CPU-only torch.

The torchvision 0.28.0 wheel on PyPI is a CUDA build. On the CPU build of torch its compiled
extension does not load, and the import then fails with "operator torchvision::nms does not
exist" while registering fake kernels. We only need torchvision because EasyOCR imports it,
so when (and only when) that happens we define the two NMS operators ourselves, with a
plain CPU kernel, and import again.
"""

from __future__ import annotations

import sys

import torch

_library: torch.library.Library | None = None  # kept alive: dropping it unregisters the ops


def _nms_cpu(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """Greedy non-maximum suppression, same contract as torchvision.ops.nms."""
    x0, y0, x1, y1 = boxes.float().unbind(1)
    areas = (x1 - x0).clamp(min=0) * (y1 - y0).clamp(min=0)
    suppressed = torch.zeros(len(boxes), dtype=torch.bool)
    keep: list[int] = []
    for i in scores.argsort(descending=True).tolist():
        if suppressed[i]:
            continue
        keep.append(i)
        w = (torch.minimum(x1[i], x1) - torch.maximum(x0[i], x0)).clamp(min=0)
        h = (torch.minimum(y1[i], y1) - torch.maximum(y0[i], y0)).clamp(min=0)
        inter = w * h
        suppressed |= inter / (areas[i] + areas - inter).clamp(min=1e-12) > iou_threshold
    return torch.tensor(keep, dtype=torch.int64)


def ensure_torchvision() -> None:
    """Import torchvision, registering CPU fallbacks only if its compiled ops are missing."""
    global _library
    if "torchvision" in sys.modules and hasattr(sys.modules["torchvision"], "__version__"):
        return
    try:
        import torchvision  # noqa: F401

        return
    except RuntimeError as error:
        if "torchvision::" not in str(error) or _library is not None:
            raise
    for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
        del sys.modules[name]
    _library = torch.library.Library("torchvision", "DEF")
    for op in ("nms", "qnms"):
        _library.define(f"{op}(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    _library.impl("nms", _nms_cpu, "CPU")
    import torchvision  # noqa: F401,F811
