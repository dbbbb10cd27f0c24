"""The ML team's scripts: data, training, calibration and evaluation (training/README.md)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Callable

from visionguard.errors import VisionGuardError


def run(main: Callable[[], int | None]) -> int:
    """Run a script's `main` as the `visionguard` command runs: a user mistake is one line and
    exit 2, Ctrl-C one line and exit 130 (finetune keeps its last finished epoch's files)."""
    try:
        return main() or 0
    except VisionGuardError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted (finetune's --out holds the weights and card of its last finished epoch)", file=sys.stderr)
        return 130


def check_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """The mistakes every training script can be given, refused before minutes of work: no data,
    an --out that is a file, a CUDA device torch cannot see."""
    if not getattr(args, "simple_icons", None) and not getattr(args, "image_folder", None):
        parser.error("give --simple-icons and/or --image-folder")
    out = getattr(args, "out", None)
    if isinstance(out, Path) and out.exists() and not out.is_dir():
        parser.error(f"--out {out} is a file, not a folder")
    device = getattr(args, "device", "cpu") or "cpu"
    if device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            parser.error(f"--device {device}: torch sees no CUDA GPU here (a CPU build of torch, or no GPU); use --device cpu")
