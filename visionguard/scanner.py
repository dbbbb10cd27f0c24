"""`Scanner`: the scan pipeline, top to bottom.

source -> decode -> embed -> search -> OCR -> text match -> score -> (sink)

Images travel in small batches so the model and FAISS work batched; a failure in any
stage for one image becomes that image's error result and the rest of the batch goes on.
"""

from __future__ import annotations

import numbers
import os
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Iterable, Iterator, Sequence

import numpy as np
from PIL import Image

from visionguard.decode import ImageInput, decode
from visionguard.embed import CROP_GRID, SMALL_LOGO_GRID, embed_images, trim_border
from visionguard.errors import DecodeError, VisionGuardError
from visionguard.gallery import Brand
from visionguard.index import GalleryIndex
from visionguard.models import DEFAULT_RUNTIME, EmbeddingModel
from visionguard.models.runtime import DEVICES, PRECISIONS, check_device, resolve_precision
from visionguard.ocr import check_ocr_options
from visionguard.refine import refine_matches
from visionguard.results import OcrToken, ScanResult
from visionguard.score import apply_evidence
from visionguard.search import SearchThresholds, VisualMatch, search_gallery
from visionguard.sources import CLAIMED_BRAND_COLUMNS, TITLE_COLUMN, ScanInput, iter_image_files, iter_inputs, listing_value
from visionguard.text import BrandCatalog, TextMatcher
from visionguard.verify import confirm_copy
from visionguard.wordmark import printed_words_explain


#: How much of a listing title is matched for brand names: marketplaces cap titles at 80-200
#: characters; 2,000 made-up titles took 1.2 ms each, a 9,400-character one 0.2 s.
TITLE_MATCHED_CHARACTERS = 1000
#: `claimed_brand` values that say nothing: how exports write a missing value. ("Generic" or
#: "Unbranded" do say something: a photo showing a brand beside them is a mismatch.)
NOT_GIVEN = frozenset({"", "-", "n/a", "na", "nan", "none", "null", "unknown"})


@dataclass
class ScanOptions:
    ocr: bool = True
    #: Text detector before EasyOCR's recogniser: "ppocr" (PP-OCRv4 on OpenVINO on a CPU), "ppocr-int8"
    #: (the same quantised to int8, made on first use) or "craft".
    ocr_detector: str = "ppocr"
    #: With a ppocr detector: find text regions on the photo shrunk to this many pixels first,
    #: then detect at full size only there (`PpOcrDetector`); 0 or None: one full-size pass.
    ocr_coarse_side: int | None = None
    #: With a ppocr detector: the longer side, in pixels, that text is detected at (None: 960);
    #: words are still read from the photo at full resolution. 640 scanned the bench 1.17x
    #: faster and 512 1.36x, and missed more words under 20 px (docs/performance.md, "Text-detection size").
    ocr_side: int | None = None
    #: With a ppocr detector in one pass (not coarse to fine): detect text only on full-width
    #: bands around the rows where the embedding model's text-cell probe (`training.text_cells`)
    #: sees possible text, and not at all on photos where it sees none. Needs a model with a
    #: probe (the default has one).
    text_cells: bool = False
    batch_size: int = 8
    #: Keep each OCR character's runner-up readings in the results (audit look-alike evidence).
    ocr_alternatives: bool = False
    #: Also search small crop windows, for logos of 10-20% of the photo width (about twice the embedding work per photo, measured).
    small_logos: bool = False
    #: Look again, with more windows, at photos whose best brand scores just under the
    #: threshold (refine.py; models whose card sets `refine_floor`, the default one does).
    refine: bool = True
    #: After OCR, withdraw a logo verdict that printed words not naming the brand explain
    #: (wordmark.py: a printed word looks like a wordmark logo).
    wordmark_check: bool = True
    #: None: the thresholds calibrated for the model (its model card), else the search defaults.
    thresholds: SearchThresholds | None = None
    #: Batches scanned at once, one thread each (see `Scanner.scan`); `Scanner.load` gives each
    #: its share of the cores. Measured on 2 cores: 2 workers 1.28x faster than 1, +450 MB peak RSS.
    workers: int = 1
    #: "cpu", or "cuda" to run the embedding model and both OCR networks on a GPU (needs a CUDA
    #: build of torch and onnxruntime-gpu; `models.runtime.check_device` says what is missing).
    device: str = "cpu"
    #: Arithmetic of the networks on OpenVINO (the text detector on a CPU; the embedding with
    #: runtime "openvino"): "auto" is bfloat16 where the CPU computes it natively (the
    #: detector 1.6x, the embedding 1.4x faster; results measured in docs/performance.md, "Precision"), else "f32", the reference. Like `device`, the
    #: scanner sets its model to it.
    precision: str = "auto"

    def __post_init__(self) -> None:
        """An option that cannot work is one sentence when the scanner is made, not an error on
        every image once OCR loads (a service could not tell it from a bad photo)."""
        for name in ("ocr", "ocr_alternatives", "small_logos", "refine", "wordmark_check", "text_cells"):
            if not isinstance(getattr(self, name), bool):
                raise VisionGuardError(f"option {name} must be True or False, not {getattr(self, name)!r}")
        for name in ("batch_size", "workers"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
                raise VisionGuardError(f"option {name} must be a whole number of at least 1, not {value!r}")
        check_ocr_options(self.ocr_detector, self.ocr_coarse_side, self.ocr_side)
        if self.thresholds is not None and not isinstance(self.thresholds, SearchThresholds):
            raise VisionGuardError(f"option thresholds must be a SearchThresholds (or None), not {type(self.thresholds).__name__}")
        if self.device not in DEVICES:
            raise VisionGuardError(f"unknown device '{self.device}'; choose one of: {', '.join(DEVICES)}")
        if self.precision not in PRECISIONS:
            raise VisionGuardError(f"unknown precision '{self.precision}'; choose one of: {', '.join(PRECISIONS)}")


@dataclass
class _Item:
    result: ScanResult
    image: np.ndarray | None = None
    text_cells: np.ndarray | None = None  # where the model's probe sees possible text


class Scanner:
    """Scans listing images against a gallery index. Load once, scan many."""

    def __init__(
        self,
        index: GalleryIndex,
        model: EmbeddingModel,
        options: ScanOptions | None = None,
        ocr_engine=None,
        index_dir: str | os.PathLike = "",
    ) -> None:
        index.check_model(model, index_dir)
        self.index = index
        self.options = options or ScanOptions()
        self.model = model if model.device == self.options.device else model.use_device(self.options.device)
        if self.options.device == "cpu":
            resolve_precision(self.options.precision)  # an unknown or unsupported one: one sentence, before any work
        if self.model.precision != self.options.precision:
            self.model.use_runtime(self.model.runtime, self.options.precision)
        if self.options.thresholds is None:
            self.options.thresholds = SearchThresholds.for_model(model)
        self._grid = SMALL_LOGO_GRID if self.options.small_logos else CROP_GRID
        if self.options.text_cells and self.options.ocr:
            if getattr(model, "text_probe", None) is None:
                raise VisionGuardError(f"model '{model.name}' has no text-cell probe; scan without --text-cells or train one (training.text_cells)")
            if self.options.ocr_detector == "craft" or self.options.ocr_coarse_side:
                raise VisionGuardError("--text-cells needs a ppocr detector in one pass (not craft, not --ocr-coarse-side)")
        self.catalog = BrandCatalog(index.brands.values())
        self.text_matcher = TextMatcher(self.catalog)
        self.brand_names = {b.id: b.name for b in index.brands.values()}
        self._ocr = ocr_engine
        self._ocr_lock = threading.Lock()

    @classmethod
    def load(
        cls,
        index_dir: str | os.PathLike,
        model: str | EmbeddingModel | None = None,
        runtime: str = DEFAULT_RUNTIME,
        **options,
    ) -> "Scanner":
        """Open an index and the model that built it (or `model`, which must match it);
        `runtime` runs the model on OpenVINO (the default; in `precision`), ONNX Runtime ("onnx") or eager torch. With
        `workers=N`, torch's thread pool (which the model and OCR runtimes are sized from) is
        set to its share of the cores, for the whole process."""
        try:
            checked = ScanOptions(**options)  # before seconds of loading
        except TypeError as error:  # an option name ScanOptions does not have
            raise VisionGuardError(f"unknown scan option: {error}") from None
        check_device(checked.device)
        workers = checked.workers
        if workers > 1:
            import torch

            torch.set_num_threads(max(1, len(os.sched_getaffinity(0)) // workers))
        index = GalleryIndex.load(index_dir)
        embedder = index.open_model(model, runtime, index_dir)
        return cls(index, embedder, checked, index_dir=index_dir)

    @property
    def ocr_engine(self):
        """EasyOCR is loaded on first use: it takes seconds and most of the memory. Once: threads
        of a service that scan at the same time wait for the first to load it."""
        if self._ocr is None and self.options.ocr:
            from visionguard.ocr import EasyOcrEngine

            with self._ocr_lock:
                if self._ocr is None:
                    self._ocr = EasyOcrEngine(
                        detector=self.options.ocr_detector, coarse_side=self.options.ocr_coarse_side,
                        device=self.options.device, precision=self.options.precision, detect_side=self.options.ocr_side,
                    )
        return self._ocr

    # -- public API --------------------------------------------------------------------

    def scan_image(self, source: ImageInput, path: str | None = None) -> ScanResult:
        """Scan one image: a path, bytes, a binary file object, a PIL image or a numpy array (HxW
        grey, HxWx3 RGB or HxWx4 RGBA; OpenCV's `cv2.imread` gives BGR: pass `image[:, :, ::-1]`).
        An image that cannot be decoded is a result with status "error" and a message, not an exception."""
        if path is None:
            path = os.fspath(source) if isinstance(source, (str, os.PathLike)) else "<memory>"
        return next(iter(self._scan_batch([ScanInput(source, path)])))

    def scan(self, sources: Iterable[ImageInput | tuple[ImageInput, str] | ScanInput]) -> Iterator[ScanResult]:
        """Stream results for many images, in input order; batched inside. Items are images,
        (image, path) pairs, or `ScanInput`s whose manifest columns go into `result.listing`."""
        if isinstance(sources, (str, bytes, os.PathLike, Image.Image)) or (isinstance(sources, np.ndarray) and sources.ndim != 4):
            raise TypeError(
                "Scanner.scan takes an iterable of images; for one image use scan_image, for a folder "
                "scan_folder, for folders, lists, manifests and shards scan_inputs"
            )
        batches = self._batches(sources)
        if self.options.workers <= 1:
            for batch in batches:
                yield from self._scan_batch(batch)
            return
        # Batches scanned side by side in threads, each whole (decode to score): ONNX Runtime,
        # OpenCV, FAISS and torch release the GIL, and two single-threaded scans beat one scan
        # on two threads (docs/performance.md, "Earlier per-image figures"). At most `workers` batches are in flight (flat
        # memory); results come out in input order.
        self.ocr_engine  # noqa: B018 - loaded once here, not by two threads at once
        with ThreadPoolExecutor(self.options.workers, thread_name_prefix="visionguard-scan") as pool:
            in_flight: deque = deque()
            for batch in batches:
                in_flight.append(pool.submit(self._scan_batch, batch))
                if len(in_flight) >= self.options.workers:
                    yield from in_flight.popleft().result()
            while in_flight:
                yield from in_flight.popleft().result()

    def scan_folder(self, input_dir: str | os.PathLike) -> Iterator[ScanResult]:
        """Scan every image under a folder; result paths are relative to it, with `/`."""
        return self.scan(iter_image_files(input_dir))

    def scan_inputs(self, inputs: Sequence[str | os.PathLike]) -> Iterator[ScanResult]:
        """Scan folders, file lists, manifests (.csv/.jsonl) and tar shards (`sources.iter_inputs`)."""
        return self.scan(iter_inputs(inputs))

    # -- stages --------------------------------------------------------------------------

    def _batches(self, sources: Iterable) -> Iterator[list[ScanInput]]:
        batch: list[ScanInput] = []
        for position, source in enumerate(sources):
            if isinstance(source, ScanInput):
                batch.append(source)
            elif isinstance(source, tuple):
                batch.append(ScanInput(*source))
            else:
                label = os.fspath(source) if isinstance(source, (str, os.PathLike)) else f"<item {position}>"
                batch.append(ScanInput(source, label))
            if len(batch) >= self.options.batch_size:
                yield batch
                batch = []
        if batch:
            yield batch

    def _scan_batch(self, batch: list[ScanInput]) -> list[ScanResult]:
        items = [self._decode(entry) for entry in batch]
        live = [item for item in items if item.result.status == "ok"]
        visual = self._search(live)
        for item, match in zip(live, visual):
            self._verify(item, match)
            self._read_and_score(item, match)
            item.image = None
        for item in items:
            if item.result.status == "error":
                self._score_listing_only(item.result)
        return [item.result for item in items]

    def _decode(self, entry: ScanInput) -> _Item:
        started = time.perf_counter()
        path = entry.path
        if entry.error:
            return _Item(ScanResult.failed(path, entry.error, entry.listing))
        try:
            image = decode(entry.source)
        except DecodeError as error:
            return _Item(ScanResult.failed(path, str(error), entry.listing))
        except Exception as error:  # noqa: BLE001 - one bad file must not stop a bulk scan
            return _Item(ScanResult.failed(path, f"cannot decode image: {type(error).__name__}: {error}", entry.listing))
        result = ScanResult(path=path, height=image.shape[0], width=image.shape[1], listing=entry.listing)
        result.timings_ms["decode"] = (time.perf_counter() - started) * 1000
        return _Item(result, image)

    def _search(self, items: list[_Item]) -> list[VisualMatch | None]:
        if not items:
            return []
        started = time.perf_counter()
        try:
            matches: list[VisualMatch | None] = self._embed_and_search(items)
        except Exception:  # noqa: BLE001 - retry one by one so a single odd image fails alone
            matches = []
            for item in items:
                try:
                    matches += self._embed_and_search([item])
                except Exception as error:  # noqa: BLE001
                    item.result = ScanResult.failed(
                        item.result.path, f"embedding failed: {type(error).__name__}: {error}", item.result.listing
                    )
                    matches.append(None)
        second_looks = sum(item.result.timings_ms.get("refine", 0.0) for item in items)
        elapsed = ((time.perf_counter() - started) * 1000 - second_looks) / len(items)
        for item in items:
            item.result.timings_ms["embed_search"] = elapsed
        return matches

    def _embed_and_search(self, items: list[_Item]) -> list[VisualMatch]:
        images = [item.image for item in items]
        embeddings = embed_images(self.model, images, self._grid)
        matches = search_gallery(self.index, embeddings, self.options.thresholds)
        for item, embedding in zip(items, embeddings):
            item.text_cells = embedding.text_cells
        if self.options.refine:
            started = time.perf_counter()
            looked = refine_matches(self.model, self.index, images, embeddings, matches, self.options.thresholds)
            for i in looked:  # the photos that got a second look share its time
                items[i].result.timings_ms["refine"] = (time.perf_counter() - started) * 1000 / len(looked)
        return matches

    def _verify(self, item: _Item, visual: VisualMatch | None) -> None:
        """Geometric check of copy candidates; only photos close to a gallery photo pay for it."""
        if visual is None or not visual.copy_candidates or item.result.status != "ok":
            return
        started = time.perf_counter()
        try:
            confirm_copy(visual, trim_border(item.image), self.index, self.options.thresholds)
        except Exception as error:  # noqa: BLE001 - the embedding's verdict stands; the scan goes on
            item.result.error = f"copy verification failed: {type(error).__name__}: {error}"
        item.result.timings_ms["verify"] = (time.perf_counter() - started) * 1000

    def _read_and_score(self, item: _Item, visual: VisualMatch | None) -> None:
        result = item.result
        if result.status != "ok":
            return
        if self.options.ocr:
            started = time.perf_counter()
            try:
                gate = item.text_cells if self.options.text_cells else None  # None: no map, the whole photo
                result.ocr = self.ocr_engine.read(item.image, text_cells=gate)
            except Exception as error:  # noqa: BLE001
                item.result = ScanResult.failed(result.path, f"OCR failed: {type(error).__name__}: {error}", result.listing)
                return
            result.timings_ms["ocr"] = (time.perf_counter() - started) * 1000
            try:
                result.mentions, result.altered = self.text_matcher.match_tokens(result.ocr)
            except Exception as error:  # noqa: BLE001 - one odd text must not stop a bulk scan
                item.result = ScanResult.failed(result.path, f"text matching failed: {type(error).__name__}: {error}", result.listing)
                return
            if result.altered:
                try:
                    result.mentions, result.altered = self.text_matcher.confirm_altered(
                        result.mentions, result.altered, lambda box: self.ocr_engine.second_reader.read(item.image, box)
                    )
                except Exception as error:  # noqa: BLE001 - the flags stand unconfirmed; the scan goes on
                    result.error = f"second OCR reading failed: {type(error).__name__}: {error}"
            if self.options.wordmark_check and visual is not None and visual.brand and result.ocr:
                self._check_wordmark(item, visual)
            if not self.options.ocr_alternatives:
                for token in result.ocr:
                    token.alternatives = None
        try:
            self._match_title(result)
        except Exception as error:  # noqa: BLE001 - the photo's verdict stands; the scan goes on
            result.error = f"title check failed: {type(error).__name__}: {error}"
        result.claimed_brands = self._claimed_brands(result)
        apply_evidence(result, visual, self.brand_names)

    def _score_listing_only(self, result: ScanResult) -> None:
        """A listing whose photo could not be scanned keeps what its title says ("ADIBAS shoes"):
        its error line carries the title's findings and their risk (the photo's are unknown), and
        the brands the listing claims, with a title or without."""
        if not result.listing:  # a folder's, a list's or a shard's image: nothing claimed, nothing to match
            return
        if listing_value(result.listing, (TITLE_COLUMN,)) is not None:
            try:
                self._match_title(result)
            except Exception:  # noqa: BLE001 - the line already says what failed; the scan goes on
                return
        result.claimed_brands = self._claimed_brands(result)
        apply_evidence(result, None, self.brand_names)

    def _match_title(self, result: ScanResult) -> None:
        """A manifest's listing title is text the seller typed: "ADIBAS running shoes" there is as
        telling as in the photo, costs no OCR, and needs no second reader (no letter was misread)."""
        title = listing_value(result.listing, (TITLE_COLUMN,))
        if not isinstance(title, str) or not title.strip():
            return
        if len(title) > TITLE_MATCHED_CHARACTERS:  # a description pasted as title: its cost grows with its length;
            title = (title[: TITLE_MATCHED_CHARACTERS + 1].rsplit(None, 1) or [""])[0]  # cut between words ("Adida" is no imitation)
        mentions, altered = self.text_matcher.match_tokens([OcrToken(title, 1.0, (0, 0, 0, 0))])
        for found in altered:
            found.box = None
        for found in (*mentions, *altered):
            found.source = "title"
        result.mentions += mentions
        result.altered += altered

    def _claimed_brands(self, result: ScanResult) -> list[str]:
        """What the listing says it sells: its `claimed_brand` (or `brand`) column (a gallery brand's id when the
        value names one, "Nike Inc." included; else the value as written), or, without one, the
        gallery brands its title names or imitates."""
        value = listing_value(result.listing, CLAIMED_BRAND_COLUMNS)
        if isinstance(value, str) and value.strip().lower() not in NOT_GIVEN:
            named = self.catalog.exact(value)
            if named is not None and named.brand is not None:
                return [named.brand]
            try:
                mentions, _ = self.text_matcher.match_tokens([OcrToken(value[:TITLE_MATCHED_CHARACTERS], 1.0, (0, 0, 0, 0))])
            except Exception:  # noqa: BLE001 - the value as written still says what is claimed
                mentions = []
            return list(dict.fromkeys(m.brand for m in mentions)) or [value.strip()]
        return list(dict.fromkeys(found.brand for found in (*result.mentions, *result.altered) if found.source == "title"))

    def _check_wordmark(self, item: _Item, visual: VisualMatch) -> None:
        """Withdraw a logo verdict that printed words not naming the brand explain (wordmark.py)."""
        result = item.result
        if visual.brand in {m.brand for m in result.mentions} | {a.brand for a in result.altered}:
            return
        started = time.perf_counter()
        try:
            brand = self.index.brands.get(visual.brand) or Brand(visual.brand, visual.brand)
            words = printed_words_explain(self.model, self.index, item.image, visual, result.ocr, brand, self.options.thresholds)
        except Exception as error:  # noqa: BLE001 - the logo verdict stands; the scan goes on
            result.error = f"wordmark check failed: {type(error).__name__}: {error}"
            return
        result.timings_ms["wordmark"] = (time.perf_counter() - started) * 1000
        if words:
            name = self.brand_names.get(visual.brand, visual.brand)
            read = ", ".join(f"'{t.text}'" for t in words)
            visual.set_aside = f"{name} logo match (similarity {visual.brand_score:.2f}) set aside: it rests on the printed text {read}"
            visual.brand = visual.brand_image = visual.brand_box = None
