"""The embedding-model interface: images in, L2-normalised float32 vectors out.

The base class does the shared work (resizing, normalising, batching, L2 normalisation);
a model only says how to turn a float tensor batch into features. The index records the
model's name and checksum, so a scan never mixes vectors of two different models.
"""

from __future__ import annotations

import hashlib
import threading
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np
import torch

from visionguard.errors import VisionGuardError
from visionguard.models.runtime import DEFAULT_RUNTIME, PRECISIONS, RUNTIMES, Runner, check_device, create_runner

Box = tuple[int, int, int, int]


class EmbeddingModel(ABC):
    """Maps RGB uint8 images to unit-length vectors; cosine similarity = inner product."""

    name: str
    dim: int
    #: Size of the whole-photo (near-duplicate) space; None: the same vectors as `embed`.
    product_dim: int | None = None
    input_size: int = 224
    mean: tuple[float, float, float] = (0.5, 0.5, 0.5)
    std: tuple[float, float, float] = (0.5, 0.5, 0.5)
    batch_size: int = 32
    #: Windows cut out of photos per network run (`embed_windows`, the second look). The model's
    #: own batch (64 for the trained one) made ONNX Runtime hold activations for 64 crops: 88
    #: crops in batches of 64 vs 8, one thread: 7.9 vs 5.6 ms per crop, peak RSS 680 vs 430-475 MB.
    crop_batch_size: int = 8
    #: Margin (share of the mark's longer side) around the clean logo images this model was
    #: trained to match; gallery logos on a plain background are re-framed so (`frame_mark`).
    #: None: gallery images are embedded as they are.
    gallery_margin: float | None = None

    def __init__(self, checksum: str) -> None:
        self.checksum = checksum
        self.runtime = DEFAULT_RUNTIME
        self.device = "cpu"
        self.precision = "auto"  # of the OpenVINO runtime: bf16 where the CPU has it
        self._runners: dict[tuple[str, tuple[int, ...]], Runner] = {}
        # Scan workers share the model: without the lock both built the first batch's sessions
        # (twice the start-up work and memory, one copy thrown away).
        self._runners_lock = threading.Lock()

    @abstractmethod
    def logo_network(self) -> torch.nn.Module:
        """(N, 3, S, S) normalised float tensor -> (N, dim) features (crops and whole photos)."""

    def photo_network(self) -> torch.nn.Module | None:
        """For models with a product head: batch -> (logo, product) features in one pass;
        None when whole photos use the logo vectors."""
        return None

    def use_runtime(self, runtime: str, precision: str | None = None) -> EmbeddingModel:
        """Run the networks on `runtime` ("openvino", the default, "onnx" or "torch"), OpenVINO's
        in `precision` ("auto", "f32" or "bf16"; None: unchanged)."""
        if runtime not in RUNTIMES:
            raise VisionGuardError(f"unknown runtime '{runtime}'; choose one of: {', '.join(RUNTIMES)}")
        if precision is not None and precision not in PRECISIONS:
            raise VisionGuardError(f"unknown precision '{precision}'; choose one of: {', '.join(PRECISIONS)}")
        self.runtime, self.precision, self._runners = runtime, precision or self.precision, {}
        return self

    def use_device(self, device: str) -> EmbeddingModel:
        """Run the networks on `device` ("cpu", the default, or "cuda"); one sentence if it cannot."""
        check_device(device)
        self.device, self._runners = device, {}
        return self

    def embed(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """Embed RGB uint8 arrays of any size; returns (N, dim) float32 unit vectors."""
        if not images:
            return np.zeros((0, self.dim), dtype=np.float32)
        return _unit(self._run("logo", images)[0])

    def embed_with_products(self, images: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Logo-space and product-space vectors of whole photos (the same unless a model has two heads)."""
        if self.photo_network() is None:
            vectors = self.embed(images)
            return vectors, vectors
        if not images:
            return np.zeros((0, self.dim), np.float32), np.zeros((0, self.product_dim or self.dim), np.float32)
        logos, products = self._run("photo", images)
        return _unit(logos), _unit(products)

    def embed_windows(self, images: Sequence[np.ndarray], boxes: Sequence[Sequence[Box]]) -> np.ndarray:
        """Vectors of the windows `boxes[i]` (x0, y0, x1, y1) of each image `images[i]`, all
        concatenated in order: here each window is cut out and embedded on its own; a model
        whose overlapping windows can share work overrides this."""
        crops = [image[y0:y1, x0:x1] for image, windows in zip(images, boxes) for x0, y0, x1, y1 in windows]
        return self.embed_crops(crops)

    def embed_crops(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        """`embed`, `crop_batch_size` crops per network run: small runs keep memory flat."""
        step = self.crop_batch_size
        if len(crops) <= step:
            return self.embed(crops)
        return np.concatenate([self.embed(crops[start : start + step]) for start in range(0, len(crops), step)])

    def embed_windows_and_text(self, images: Sequence[np.ndarray], boxes: Sequence[Sequence[Box]]) -> tuple[np.ndarray, list[np.ndarray | None]]:
        """`embed_windows`, and for each image the cells that may hold text (rows x columns of
        bools over the image) where the model can tell from the same pass; None here."""
        return self.embed_windows(images, boxes), [None] * len(images)

    def _module(self, name: str) -> torch.nn.Module:
        """The torch module behind a runner name: "logo" or "photo" here; subclasses add theirs."""
        module = self.logo_network() if name == "logo" else self.photo_network() if name == "photo" else None
        if module is None:
            raise ValueError(f"{self.name} has no '{name}' network")
        return module

    def _runner(self, network: str, input_shape: tuple[int, ...]) -> Runner:
        """The network on the chosen runtime, built once per input shape (ONNX graphs are static)."""
        with self._runners_lock:
            if (network, input_shape) not in self._runners:
                key = f"{self.name}|{self.checksum}|{network}"
                self._runners[network, input_shape] = create_runner(
                    self.runtime, self._module(network), input_shape, key, self.device, precision=self.precision
                )
            return self._runners[network, input_shape]

    def _run(self, network: str, images: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Batches of images through the chosen network; outputs concatenated."""
        size = self.input_size
        batches = [self._preprocess(images[start : start + self.batch_size], (size, size)) for start in range(0, len(images), self.batch_size)]
        return self._run_batches(network, batches)

    def _run_batches(self, network: str, batches: list[np.ndarray]) -> list[np.ndarray]:
        run = self._runner(network, batches[0].shape[1:])
        chunks = [run(batch) for batch in batches]
        return [np.concatenate([chunk[i] for chunk in chunks]).astype(np.float32, copy=False) for i in range(len(chunks[0]))]

    @property
    def thresholds(self) -> dict:
        """Similarity thresholds calibrated for this model (empty: the search defaults)."""
        return {}

    def _preprocess(self, images: Sequence[np.ndarray], size: tuple[int, int]) -> np.ndarray:
        """Resized to `size` (width, height), normalised, NCHW float32."""
        width, height = size
        batch = np.empty((len(images), height, width, 3), dtype=np.float32)
        for i, image in enumerate(images):
            shrinking = image.shape[0] > height or image.shape[1] > width
            batch[i] = cv2.resize(image, size, interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)
        batch = (batch / 255.0 - np.asarray(self.mean, np.float32)) / np.asarray(self.std, np.float32)
        return np.ascontiguousarray(batch.transpose(0, 3, 1, 2))

    def describe(self) -> dict:
        """What the index stores to recognise this model later."""
        return {
            "name": self.name,
            "checksum": self.checksum,
            "dim": self.dim,
            "product_dim": self.product_dim or self.dim,
            "input_size": self.input_size,
            "gallery_margin": self.gallery_margin,
        }


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _unit(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)
