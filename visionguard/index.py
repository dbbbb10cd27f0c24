"""The gallery index: a FAISS inner-product index over unit vectors plus self-describing metadata.

An index folder holds `vectors.faiss` (logo space) and `products.faiss` (whole-photo,
near-duplicate space), both in FAISS's own format, `index.json` (model name, checksum and
embedding sizes, brands, gallery paths) and the gallery's ORB keypoints as plain `.npy`
arrays (`verify.KeypointStore`, for geometric verification of copies; an index without
them falls back to the embedding alone). No pickle anywhere: a user may hand us any folder.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import faiss
import numpy as np

from visionguard import __version__
from visionguard.decode import decode
from visionguard.embed import trim_border
from visionguard.errors import DecodeError, GalleryError, IndexLoadError
from visionguard.gallery import Brand, read_gallery
from visionguard.models import DEFAULT_MODEL, DEFAULT_RUNTIME, EmbeddingModel, create_model
from visionguard.verify import GALLERY_KEYPOINTS, KeypointStore, extract_keypoints

FORMAT_VERSION = 2
VECTORS_FILE = "vectors.faiss"
PRODUCTS_FILE = "products.faiss"
META_FILE = "index.json"

ProgressCallback = Callable[[int, int], None]


@dataclass
class GalleryIndex:
    """Vectors of genuine gallery images, which brand each belongs to and where it came from."""

    vectors: faiss.Index
    products: faiss.Index
    model: dict
    brands: dict[str, Brand]
    paths: list[str]
    brand_of: list[str]
    skipped: list[dict]
    keypoints: KeypointStore | None = None

    def __len__(self) -> int:
        return self.vectors.ntotal

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-k cosine similarities and row ids for each query (rows of unit vectors)."""
        k = min(k, len(self))
        return self.vectors.search(np.ascontiguousarray(queries, dtype=np.float32), k)

    def search_products(self, queries: np.ndarray, k: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """Top-k similarities in the whole-photo (near-duplicate) space."""
        k = min(k, len(self))
        return self.products.search(np.ascontiguousarray(queries, dtype=np.float32), k)

    def save(self, folder: str | os.PathLike) -> None:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        faiss.write_index(self.vectors, str(folder / VECTORS_FILE))
        faiss.write_index(self.products, str(folder / PRODUCTS_FILE))
        if self.keypoints is not None:
            self.keypoints.save(folder)
        meta = {
            "format_version": FORMAT_VERSION,
            "visionguard_version": __version__,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "model": self.model,
            "count": len(self),
            "brands": {b.id: b.to_dict() for b in self.brands.values()},
            "images": [{"path": p, "brand": b} for p, b in zip(self.paths, self.brand_of)],
            "skipped": self.skipped,
        }
        (folder / META_FILE).write_text(json.dumps(meta, indent=1, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, folder: str | os.PathLike) -> "GalleryIndex":
        folder = Path(folder)
        if not folder.is_dir():
            raise IndexLoadError(f"index folder '{folder}' does not exist; build one with 'visionguard index build'")
        meta_path, vectors_path, products_path = folder / META_FILE, folder / VECTORS_FILE, folder / PRODUCTS_FILE
        if not meta_path.exists() or not vectors_path.exists():
            raise IndexLoadError(
                f"'{folder}' is not a VisionGuard index (it needs {META_FILE} and {VECTORS_FILE}); "
                "build one with 'visionguard index build'"
            )
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            if meta.get("format_version") != FORMAT_VERSION:
                raise IndexLoadError(
                    f"index '{folder}' has format version {meta.get('format_version')}, "
                    f"this VisionGuard reads version {FORMAT_VERSION}; rebuild it"
                )
            vectors = faiss.read_index(str(vectors_path))
            products = faiss.read_index(str(products_path))
            images = meta["images"]
            index = cls(
                vectors=vectors,
                products=products,
                model=meta["model"],
                brands={k: Brand(k, v["name"], tuple(v.get("aliases", []))) for k, v in meta["brands"].items()},
                paths=[item["path"] for item in images],
                brand_of=[item["brand"] for item in images],
                skipped=meta.get("skipped", []),
            )
            index.keypoints = KeypointStore.load(folder, len(index.paths))
        except IndexLoadError:
            raise
        except (OSError, RuntimeError, ValueError, KeyError, TypeError) as error:
            raise IndexLoadError(f"index '{folder}' is corrupt or incomplete ({error}); rebuild it") from None
        if (
            vectors.ntotal != len(index.paths)
            or products.ntotal != len(index.paths)
            or vectors.d != index.model.get("dim")
            or products.d != index.model.get("product_dim")
        ):
            raise IndexLoadError(f"index '{folder}' is inconsistent (vectors and metadata disagree); rebuild it")
        return index

    def check_model(self, model: EmbeddingModel, folder: str | os.PathLike = "") -> None:
        """Refuse to search with vectors from a different model than the index was built with."""
        built = self.model
        if built.get("name") != model.name or built.get("checksum") != model.checksum:
            raise IndexLoadError(
                f"index '{folder}' was built with model '{built.get('name')}' "
                f"(checksum {str(built.get('checksum'))[:12]}), not '{model.name}' "
                f"(checksum {model.checksum[:12]}); rebuild the index with this model"
            )


def build_index(
    gallery_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    model: str | EmbeddingModel = DEFAULT_MODEL,
    batch_size: int = 32,
    progress: ProgressCallback | None = None,
    runtime: str = DEFAULT_RUNTIME,
) -> GalleryIndex:
    """Embed every image of a gallery folder and save a searchable index to `out_dir`."""
    gallery = read_gallery(gallery_dir)
    embedder = create_model(model, runtime) if isinstance(model, str) else model
    vectors = faiss.IndexFlatIP(embedder.dim)
    products = faiss.IndexFlatIP(embedder.product_dim or embedder.dim)
    keypoints = []
    paths: list[str] = []
    brand_of: list[str] = []
    skipped: list[dict] = []
    root = Path(gallery_dir)
    total = len(gallery.images)
    for start in range(0, total, batch_size):
        batch = gallery.images[start : start + batch_size]
        arrays = []
        for relative, brand_id in batch:
            try:
                arrays.append(decode(root / relative))
            except DecodeError as error:
                skipped.append({"path": relative, "error": str(error)})
                continue
            paths.append(relative)
            brand_of.append(brand_id)
        if arrays:
            logo_vectors, product_vectors = embedder.embed_with_products(arrays)
            vectors.add(logo_vectors)
            products.add(product_vectors)
            keypoints += [extract_keypoints(trim_border(array), GALLERY_KEYPOINTS) for array in arrays]
        if progress:
            progress(min(start + batch_size, total), total)
    if vectors.ntotal == 0:
        raise GalleryError(f"gallery '{gallery_dir}' has no readable image ({len(skipped)} files could not be decoded)")
    for brand_id in gallery.brands:
        if brand_id not in brand_of:
            raise GalleryError(f"brand folder '{brand_id}' in gallery '{gallery_dir}' has no readable image")
    index = GalleryIndex(
        vectors=vectors,
        products=products,
        model=embedder.describe(),
        brands=gallery.brands,
        paths=paths,
        brand_of=brand_of,
        skipped=skipped,
        keypoints=KeypointStore.from_keypoints(keypoints),
    )
    index.save(out_dir)
    return index
