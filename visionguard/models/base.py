"""The embedding-model interface: images in, L2-normalised float32 vectors out.

The base class does the shared work (resizing, normalising, batching, L2 normalisation);
a model only says how to turn a float tensor batch into features. The index records the
model's name and checksum, so a scan never mixes vectors of two different models.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np
import torch

from visionguard.errors import VisionGuardError
from visionguard.models.runtime import DEFAULT_RUNTIME, RUNTIMES, Runner, create_runner


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

    def __init__(self, checksum: str) -> None:
        self.checksum = checksum
        self.runtime = DEFAULT_RUNTIME
        self._runners: dict[str, Runner] = {}

    @abstractmethod
    def logo_network(self) -> torch.nn.Module:
        """(N, 3, S, S) normalised float tensor -> (N, dim) features (crops and whole photos)."""

    def photo_network(self) -> torch.nn.Module | None:
        """For models with a product head: batch -> (logo, product) features in one pass;
        None when whole photos use the logo vectors."""
        return None

    def use_runtime(self, runtime: str) -> EmbeddingModel:
        """Run the networks on `runtime` ("onnx", the default, or "torch")."""
        if runtime not in RUNTIMES:
            raise VisionGuardError(f"unknown runtime '{runtime}'; choose one of: {', '.join(RUNTIMES)}")
        self.runtime, self._runners = runtime, {}
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

    def _run(self, network: str, images: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Batches through the chosen network on the chosen runtime; outputs concatenated."""
        if network not in self._runners:
            module = self.logo_network() if network == "logo" else self.photo_network()
            key = f"{self.name}|{self.checksum}|{network}"
            self._runners[network] = create_runner(self.runtime, module, self.input_size, key)
        run = self._runners[network]
        chunks = [run(self._preprocess(images[start : start + self.batch_size])) for start in range(0, len(images), self.batch_size)]
        return [np.concatenate([chunk[i] for chunk in chunks]).astype(np.float32, copy=False) for i in range(len(chunks[0]))]

    @property
    def thresholds(self) -> dict:
        """Similarity thresholds calibrated for this model (empty: the search defaults)."""
        return {}

    def _preprocess(self, images: Sequence[np.ndarray]) -> np.ndarray:
        size = self.input_size
        batch = np.empty((len(images), size, size, 3), dtype=np.float32)
        for i, image in enumerate(images):
            interpolation = cv2.INTER_AREA if min(image.shape[:2]) > size else cv2.INTER_LINEAR
            batch[i] = cv2.resize(image, (size, size), interpolation=interpolation)
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
