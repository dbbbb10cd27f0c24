"""Run-time hygiene: torchvision imports on CPU torch, OCR weights verified, nothing written to ~."""

import os
import subprocess
import sys
from pathlib import Path

import torch

from visionguard._torchvision_compat import _nms_cpu, ensure_torchvision


def test_torchvision_imports_and_registered_nms_is_correct():
    """The registered CPU op (torch.ops.torchvision.nms) keeps no two boxes above the IoU bound
    and drops every other box only for a better-scored kept one."""
    ensure_torchvision()
    import torchvision

    generator = torch.Generator().manual_seed(0)
    corners = torch.rand(60, 2, generator=generator) * 100
    boxes = torch.cat([corners, corners + 5 + torch.rand(60, 2, generator=generator) * 30], dim=1)
    scores = torch.rand(60, generator=generator)
    keep = torch.ops.torchvision.nms(boxes, scores, 0.4)
    assert torch.equal(keep, _nms_cpu(boxes, scores, 0.4))
    iou = torchvision.ops.box_iou(boxes, boxes)
    kept = set(keep.tolist())
    assert float(iou[keep][:, keep].fill_diagonal_(0).max()) <= 0.4
    for dropped in set(range(60)) - kept:
        assert any(iou[dropped, k] > 0.4 and scores[k] >= scores[dropped] for k in kept)


def test_ocr_loads_offline_without_touching_home(tmp_path):
    """A fresh process with HOME pointing at an empty folder: the OCR and the ONNX model load and
    run (ONNX Runtime included, whose telemetry would write under ~/.cache), HOME stays empty."""
    home = tmp_path / "home"
    home.mkdir()
    code = (
        "import numpy as np\n"
        "from visionguard.ocr import EasyOcrEngine\n"
        "from visionguard.synth import photo, print_text\n"
        "from visionguard.models import create_model\n"
        "engine = EasyOcrEngine()\n"
        "print([t.text for t in engine.read(np.asarray(print_text(photo('grass', (480, 360)), 'SAMSUNQ', 0.12)))])\n"
        "print(create_model('efficientnet-lite0-imagenet', 'onnx').embed([np.zeros((64, 64, 3), np.uint8)]).shape)\n"
    )
    env = {**os.environ, "HOME": str(home), "VISIONGUARD_CACHE": str(tmp_path / "cache")}
    env.pop("EASYOCR_MODULE_PATH", None)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "SAMSUNQ" in done.stdout and "(1, 1280)" in done.stdout
    assert list(Path(home).iterdir()) == []
