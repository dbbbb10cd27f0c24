"""The gallery index: a FAISS inner-product index over unit vectors plus self-describing metadata.

An index folder holds `vectors.faiss` (logo space) and `products.faiss` (whole-photo,
near-duplicate space), both in FAISS's own format, `index.json` (model name, checksum and
embedding sizes, brands, gallery paths, the paths `index remove` took out), `signatures.json`
(each gallery file's size, time and SHA-256, for `index add`) and the gallery's ORB keypoints and thumbnails as
plain `.npy` arrays (`verify.KeypointStore`, for verification of copies; an index without
them falls back to the embedding alone). No pickle anywhere: a user may hand us any folder.
"""

from __future__ import annotations

import ctypes
import errno
import hashlib
import json
import os
import shutil
import stat
import struct
import time
from collections.abc import Iterable, Iterator, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, NamedTuple

import cv2
import faiss
import numpy as np

from visionguard import __version__
from visionguard.decode import decode
from visionguard.embed import frame_mark, plain_background, trim_border
from visionguard.errors import DecodeError, GalleryError, IndexLoadError
from visionguard.gallery import Brand, Gallery, copies_only, loose_name, read_gallery
from visionguard.models import DEFAULT_MODEL, DEFAULT_RUNTIME, EmbeddingModel, create_model, list_models
from visionguard.verify import GALLERY_KEYPOINTS, KeypointStore, extract_keypoints

FORMAT_VERSION = 2
#: Galleries below this many images are searched exactly; larger ones with IVF + 8-bit codes.
EXACT_LIMIT = 100_000
#: Recall@1 of the approximate search against exact search that `nprobe` is tuned to reach.
TARGET_RECALL = 0.99
VECTORS_FILE = "vectors.faiss"
PRODUCTS_FILE = "products.faiss"
META_FILE = "index.json"
SIGNATURES_FILE = "signatures.json"

ProgressCallback = Callable[[int, int], None]


class Signature(NamedTuple):
    """A gallery file as `index add` compares it (`_file_changed`): size, modification time (ns)
    and the SHA-256 digest of its content (32 bytes; hex in signatures.json)."""

    size: int
    mtime_ns: int
    sha256: bytes

    def to_json(self) -> dict:
        """The entry signatures.json holds for it, as every version wrote it."""
        return {"size": self.size, "mtime_ns": self.mtime_ns, "sha256": self.sha256.hex()}


#: A `Signature` packed into one 48-byte value: one bytes object a path in memory (81 bytes),
#: where the JSON form as Python objects (a dict of three, two ints and 64 hex characters) took 357.
_PACKED = struct.Struct("<qq32s")


class Signatures(MutableMapping[str, Signature]):
    """Gallery paths' `Signature`s, each kept packed (`_PACKED`): an index of a million
    images holds a million, and a dict of dicts of them took ~0.5 GB (benchmarks/signatures_memory.py)."""

    __slots__ = ("_packed",)

    def __init__(self, signatures: Mapping[str, Signature] | Iterable[tuple[str, Signature]] = ()) -> None:
        self._packed: dict[str, bytes] = {}
        self.update(signatures)

    def __getitem__(self, path: str) -> Signature:
        size, mtime_ns, sha256 = _PACKED.unpack(self._packed[path])
        return Signature(size, mtime_ns, sha256)

    def __setitem__(self, path: str, signature: Signature) -> None:
        self._packed[path] = _PACKED.pack(*signature)

    def __delitem__(self, path: str) -> None:
        del self._packed[path]

    def __contains__(self, path: object) -> bool:
        return path in self._packed

    def __iter__(self) -> Iterator[str]:
        return iter(self._packed)

    def __len__(self) -> int:
        return len(self._packed)

    def __repr__(self) -> str:
        return f"Signatures({len(self)} paths)"

    def keep(self, paths: set[str]) -> None:
        """Keep the signatures of `paths` only (rows an `index remove` or a replacement dropped)."""
        self._packed = {path: packed for path, packed in self._packed.items() if path in paths}

    @classmethod
    def _of_packed(cls, packed: dict[str, bytes]) -> "Signatures":
        signatures = cls()
        signatures._packed = packed
        return signatures


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
    #: Logo references that look like photos (no plain border): a photo's logo vector matches
    #: logo-free listings, so `index build` warns; product photos belong under `products/`.
    photo_like: list[str] = field(default_factory=list)
    #: Words OCR read in each brand's logo references (the AppGallery logo says "HUAWEI"): the
    #: wordmark check (wordmark.py) counts them as the brand's own, not as printed text.
    logo_text: dict[str, list[str]] = field(default_factory=dict)
    #: Each indexed file's size, modification time (ns) and SHA-256 when it was embedded
    #: (`file_signature`): `index add` embeds a file replaced under the same name again. An index
    #: built before they were recorded has none: its files are taken as unchanged. Kept in their
    #: own file, read only where asked (`load(signatures=True)`: add, remove, info), not by scans
    #: (a million paths' signatures are ~120 MB even packed, `Signatures`); None: not read, and
    #: then not written either.
    signatures: Signatures | None = None
    #: Gallery paths `index remove` took out: `index add` leaves them out (`readd_removed` brings
    #: them back); a build starts without any.
    removed: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.signatures is not None and not isinstance(self.signatures, Signatures):
            self.signatures = Signatures(self.signatures)  # a plain {path: Signature} from a caller

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
            "search": {"vectors": describe_search(self.vectors), "products": describe_search(self.products)},
            "brands": {b.id: b.to_dict() for b in self.brands.values()},
            "images": [{"path": p, "brand": b} for p, b in zip(self.paths, self.brand_of)],
            "skipped": self.skipped,
            "removed": sorted(set(self.removed)),
            "photo_like": self.photo_like,
            "logo_text": self.logo_text,
        }
        if self.signatures is not None:  # one file a line: {"path": {"size": ..., "mtime_ns": ..., "sha256": ...}}
            with open(folder / SIGNATURES_FILE, "w", encoding="utf-8") as handle:  # streamed: no copy of it all in memory
                handle.write("{\n")
                separator = ""
                for path in self.paths:
                    signature = self.signatures.get(path)
                    if signature is not None:
                        handle.write(f"{separator}{json.dumps(path, ensure_ascii=False)}: {json.dumps(signature.to_json())}")
                        separator = ",\n"
                handle.write("\n}\n")
        (folder / META_FILE).write_text(json.dumps(meta, indent=1, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, folder: str | os.PathLike, mmap: bool = True, signatures: bool = False) -> "GalleryIndex":
        """Open an index folder; `mmap` maps the vectors instead of reading them (read-only);
        `signatures` reads the gallery files' signatures too (to add to the index or save it).

        Its files are opened one by one: an `index add`, `remove` or `build` that swaps a new
        folder in meanwhile (`_replace_folder`) would give the old metadata with the new vectors
        (wrong brands for every row, or "inconsistent"). The folder is a new directory after a
        swap, so a load that saw it change is done again."""
        if not isinstance(folder, (str, os.PathLike)):  # None from an unset setting
            raise TypeError(f"the index must be the path of an index folder, not {type(folder).__name__}")
        folder = Path(folder)
        for _ in range(5):
            seen = _identity(folder)
            try:
                index = cls._read(folder, mmap, signatures)
            except IndexLoadError:
                if _identity(folder) == seen:
                    raise
                continue
            if _identity(folder) == seen:
                return index
        return cls._read(folder, mmap, signatures)

    @classmethod
    def _read(cls, folder: Path, mmap: bool, signatures: bool = False) -> "GalleryIndex":
        if folder.is_file():
            raise IndexLoadError(f"'{folder}' is a file, not an index folder; build one with 'visionguard index build'")
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
            if not isinstance(meta, dict) or not isinstance(meta.get("model"), dict):
                raise ValueError(f"{META_FILE} is not an index description")
            if meta.get("format_version") != FORMAT_VERSION:
                raise IndexLoadError(
                    f"index '{folder}' has format version {meta.get('format_version')}, "
                    f"this VisionGuard reads version {FORMAT_VERSION}; rebuild it"
                )
            if not all(isinstance(meta["model"].get(key), str) for key in ("name", "checksum")):
                raise ValueError(f"{META_FILE} does not name the model that built it, with its checksum")
            # memory-mapped: pages are shared by worker processes and loaded as searched. MMAP_IFC
            # maps both structures (an exact index's vectors and IVF lists); IO_FLAG_MMAP alone
            # left an exact index (below EXACT_LIMIT) read into each process's own memory
            flags = faiss.IO_FLAG_MMAP_IFC | faiss.IO_FLAG_READ_ONLY if mmap else 0
            vectors = faiss.read_index(str(vectors_path), flags)
            products = faiss.read_index(str(products_path), flags)
            images = meta["images"]
            index = cls(
                vectors=vectors,
                products=products,
                model=meta["model"],
                brands={k: Brand(k, v["name"], tuple(v.get("aliases", []))) for k, v in meta["brands"].items()},
                paths=[item["path"] for item in images],
                brand_of=[item["brand"] for item in images],
                skipped=meta.get("skipped", []),
                photo_like=meta.get("photo_like", []),
                logo_text=meta.get("logo_text", {}),
                signatures=_read_signatures(folder / SIGNATURES_FILE, [item["path"] for item in images]) if signatures else None,
                removed=[path for path in meta.get("removed", []) if isinstance(path, str)],
            )
            index.keypoints = KeypointStore.load(folder, len(index.paths))
        except IndexLoadError:
            raise
        except (OSError, RuntimeError, ValueError, KeyError, TypeError, AttributeError) as error:
            # numpy calls a damaged .npy "pickled data" and suggests loading it unsafely: not that
            detail = "a keypoint file is damaged" if "pickle" in str(error) else str(error).strip().splitlines()[-1]
            raise IndexLoadError(f"index '{folder}' is corrupt or incomplete ({detail}); rebuild it") from None
        if (
            vectors.ntotal != len(index.paths)
            or products.ntotal != len(index.paths)
            or vectors.d != index.model.get("dim")
            or products.d != index.model.get("product_dim")
        ):
            raise IndexLoadError(f"index '{folder}' is inconsistent (vectors and metadata disagree); rebuild it")
        return index

    def open_model(
        self, model: str | os.PathLike | EmbeddingModel | None = None, runtime: str = DEFAULT_RUNTIME, folder: str | os.PathLike = ""
    ) -> EmbeddingModel:
        """The model that built this index, or `model` (a name, a .safetensors path or an
        instance), which must be the same one."""
        model = _model_argument(model) if model is not None else None
        if model is None:
            model = self.model["name"]
            if model not in list_models():
                raise IndexLoadError(
                    f"index '{folder}' was built with model '{model}', which is not shipped with VisionGuard; "
                    f"pass its weights with --model PATH/{model}.safetensors"
                )
        embedder = create_model(model, runtime) if isinstance(model, str) else model
        self.check_model(embedder, folder)
        return embedder

    def check_model(self, model: EmbeddingModel, folder: str | os.PathLike = "") -> None:
        """Refuse to search with vectors from a different model than the index was built with."""
        built = self.model
        if built.get("name") != model.name or built.get("checksum") != model.checksum:
            raise IndexLoadError(
                f"index '{folder}' was built with model '{built.get('name')}' "
                f"(checksum {str(built.get('checksum'))[:12]}), not '{model.name}' "
                f"(checksum {model.checksum[:12]}); rebuild the index with this model"
            )


def file_signature(path: str | os.PathLike) -> Signature | None:
    """A gallery file's size, modification time (ns) and SHA-256, as `index add` compares them
    (`_file_changed`); None for what is not a readable regular file."""
    try:  # non-blocking: a FIFO put in a file's place would block an open for reading
        with os.fdopen(os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)), "rb") as file:
            status = os.fstat(file.fileno())
            if not stat.S_ISREG(status.st_mode):
                return None
            digest = hashlib.file_digest(file, "sha256").digest()
    except OSError:
        return None
    return Signature(status.st_size, status.st_mtime_ns, digest)


def _packed_signature(entry: dict) -> bytes | dict:
    """A signatures.json entry packed (`_PACKED`) as it is parsed, where it is one as
    `Signature.to_json` writes it; anything else (the folder may come from anywhere) as it is."""
    size, mtime_ns, sha256 = entry.get("size"), entry.get("mtime_ns"), entry.get("sha256")
    if type(size) is not int or type(mtime_ns) is not int or not isinstance(sha256, str) or len(sha256) != 64:
        return entry
    try:
        return _PACKED.pack(size, mtime_ns, bytes.fromhex(sha256))
    except (ValueError, struct.error):  # not hex, or a number past 64 bits
        return entry


def _read_signatures(path: Path, paths: list[str]) -> Signatures:
    """An index's signatures file, for its gallery `paths`: none for an index built before they
    were recorded; an entry that is not a signature as `file_signature` writes it is no
    signature, and its file is taken as unchanged. Each entry is packed as it is parsed, and
    kept under the index's own path strings (not a second copy of each path)."""
    if not path.exists():
        return Signatures()
    parsed = json.loads(path.read_text(encoding="utf-8"), object_hook=_packed_signature)
    if not isinstance(parsed, dict):
        raise ValueError(f"{SIGNATURES_FILE} is not a map of paths to signatures")
    return Signatures._of_packed({p: packed for p in paths if type(packed := parsed.get(p)) is bytes})


def _file_changed(path: Path, recorded: Signature) -> tuple[bool, Signature | None]:
    """Whether a gallery file is another file than the one indexed under its name, by its
    `recorded` signature: another size is another file; the same size and modification time
    the same file, read no further (as rsync and make decide); the same size at another time
    (a copy, a checkout) is decided by the SHA-256 of its content. Returns the file's new
    signature too where it was read (same content, new time: kept when the index is saved)."""
    try:
        status = path.stat()
    except OSError:
        return False, None  # listed a moment ago: gone or unreadable now, the embedding pass would skip it
    if status.st_size != recorded.size:
        return True, None
    if status.st_mtime_ns == recorded.mtime_ns:
        return False, None
    now = file_signature(path)
    if now is None:
        return False, None
    return now.sha256 != recorded.sha256, now


def _model_argument(model: str | os.PathLike | EmbeddingModel) -> str | EmbeddingModel:
    """A `model` argument as a name or weights path (str), or an instance; a Path to weights is
    what a service passes from its settings."""
    if isinstance(model, os.PathLike):
        return os.fspath(model)
    if not isinstance(model, (str, EmbeddingModel)):
        raise TypeError(f"model must be a model name, a .safetensors path or an EmbeddingModel, not {type(model).__name__}")
    return model


def _identity(folder: Path) -> tuple[int, int] | None:
    """Which directory `folder` names now (a swapped-in index is another one)."""
    try:
        stat = os.stat(folder)
    except OSError:
        return None
    return stat.st_dev, stat.st_ino


def build_index(
    gallery_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    model: str | os.PathLike | EmbeddingModel = DEFAULT_MODEL,
    batch_size: int = 32,
    progress: ProgressCallback | None = None,
    runtime: str = DEFAULT_RUNTIME,
    read_logo_text: bool = True,
) -> GalleryIndex:
    """Embed every image of a gallery folder and save a searchable index to `out_dir`; with
    `read_logo_text`, OCR the logo references for the words they hold (`GalleryIndex.logo_text`)."""
    model = _model_argument(model)
    gallery = read_gallery(gallery_dir)
    _check_writable_folder(Path(out_dir))  # before minutes of embedding, not after
    embedder = create_model(model, runtime) if isinstance(model, str) else model
    reader = _LogoTextReader() if read_logo_text else None
    found = _embed_gallery(gallery, embedder, batch_size, progress, embedder.gallery_margin, reader)
    if not found.paths:
        raise GalleryError(f"gallery '{gallery_dir}' has no usable image ({len(found.skipped)} files could not be decoded or are blank)")
    for brand_id in gallery.brands:
        if brand_id not in found.brand_of:
            raise GalleryError(f"brand folder '{brand_id}' in gallery '{gallery_dir}' has no usable image (unreadable or blank)")
    index = GalleryIndex(
        vectors=vector_index(found.logos),
        products=vector_index(found.products),
        model=embedder.describe(),
        brands=gallery.brands,
        paths=found.paths,
        brand_of=found.brand_of,
        skipped=found.skipped,
        keypoints=KeypointStore.from_keypoints(found.keypoints),
        photo_like=found.photo_like,
        logo_text=found.logo_text,
        signatures=found.signatures,  # and no removed paths: a build indexes the whole gallery
    )
    out = Path(out_dir)
    try:
        if (out.is_dir() and (out / META_FILE).exists() or not out.exists() or not any(out.iterdir())) and _swappable(out):
            # an index (or a new, empty folder) is replaced whole: never rewritten in place under
            # a scan that has it memory-mapped (a bus error), nor left half old, half new
            _replace_folder(index, out)
        else:
            # a folder that holds other files too, or one that cannot be swapped (a mount point,
            # such as a Docker volume, or a parent folder not ours): written into, as before
            index.save(out)
    except OSError as error:  # a full disk, a folder made read-only meanwhile
        raise GalleryError(f"cannot write the index to '{out_dir}': {error.strerror or error}") from None
    return index


@dataclass
class Addition:
    """What `add_to_index` did with a gallery folder's images."""

    #: images new to the index, embedded and appended
    added: list[str] = field(default_factory=list)
    #: indexed images whose file changed since (`_file_changed`): embedded again, their old rows dropped
    replaced: list[str] = field(default_factory=list)
    #: images `index remove` took out, left out again (`readd_removed` brings them back)
    held_back: list[str] = field(default_factory=list)
    #: indexed images without a recorded signature (an index built before they were): taken as unchanged
    unsigned: list[str] = field(default_factory=list)


def add_to_index(
    gallery_dir: str | os.PathLike,
    index_dir: str | os.PathLike,
    model: str | EmbeddingModel | None = None,
    batch_size: int = 32,
    progress: ProgressCallback | None = None,
    runtime: str = DEFAULT_RUNTIME,
    read_logo_text: bool = True,
    readd_removed: bool = False,
) -> tuple[GalleryIndex, Addition]:
    """Add a gallery folder's new images (paths not yet indexed) to an existing index, without
    a rebuild; brands new to the index are added, and the names and aliases of the brands its
    brands.json lists are taken from it (a brand it does not list keeps those it was indexed
    with). An indexed file replaced under the same name since (another size, or another
    content at another modification time: `_file_changed`) is embedded again in place of the
    old one. Images `index remove` took out are left out, unless `readd_removed`.
    Returns the index and what was added, replaced and left out (`Addition`).
    The search structure follows the size as a build's would (`grow_index`), without re-embedding."""
    index = GalleryIndex.load(index_dir, mmap=False, signatures=True)
    embedder = index.open_model(model, runtime, index_dir)
    gallery = read_gallery(gallery_dir)
    for brand_id in gallery.named:  # a key for a brand indexed earlier, not in this folder: checked here
        close = [b for b in index.brands if brand_id not in index.brands and loose_name(b) == loose_name(brand_id)]
        if brand_id not in gallery.brands and close:
            raise GalleryError(
                f"'{Path(gallery_dir) / 'brands.json'}' names brand '{brand_id}', but the index's brand is '{close[0]}': "
                "brands.json's keys are the brand folders' names, letter for letter"
            )
    unchanged = (dict(index.brands), list(index.skipped), sorted(set(index.removed)))
    known, removed = set(index.paths), set(index.removed)
    done = Addition()
    embed: list[tuple[str, str]] = []
    read: dict[str, Signature] = {}  # the signatures `_file_changed` hashed: the embedding pass records them, not hashing again
    for path, brand_id in gallery.images:
        if path in known:
            recorded = index.signatures.get(path)
            if recorded is None:
                done.unsigned.append(path)
                continue
            changed, signature = _file_changed(gallery.root / path, recorded)
            if changed:
                embed.append((path, brand_id))
                if signature is not None:
                    read[path] = signature
            elif signature is not None:  # the same content at a new time: kept if the index is saved anyway
                index.signatures[path] = signature
        elif path in removed and not readd_removed:
            done.held_back.append(path)
        else:
            embed.append((path, brand_id))
    if readd_removed:
        offered = {path for path, _ in gallery.images} | {path for path, _ in gallery.unread}
        index.removed = [path for path in index.removed if path not in offered]
    else:  # an SVG of a brand 'index remove' took out stays out too: no warning for it, no rewrite of the index
        gallery.unread = [(path, why) for path, why in gallery.unread if path not in removed]
    replaced = {path for path, _ in embed if path in known}
    gallery.images = embed
    # framed as the index's other logos were (an index built before framing has no margin recorded)
    reader = _LogoTextReader() if read_logo_text else None
    found = _embed_gallery(gallery, embedder, batch_size, progress, index.model.get("gallery_margin"), reader, read)
    if replaced:  # the old rows go, whether the new file could be embedded or not (then it is skipped)
        _keep_rows(index, np.array([path not in replaced for path in index.paths], bool), found.logos, found.products)
        if index.keypoints is not None:
            index.keypoints = index.keypoints.extended(found.keypoints)
    elif found.paths:
        index.vectors = grow_index(index.vectors, found.logos)
        index.products = grow_index(index.products, found.products)
        if index.keypoints is not None:
            index.keypoints = index.keypoints.extended(found.keypoints)
    index.paths += found.paths
    index.brand_of += found.brand_of
    index.signatures.update(found.signatures)
    done.added = [path for path in found.paths if path not in replaced]
    done.replaced = [path for path in found.paths if path in replaced]
    retried = {path for path, _ in gallery.images} | {item["path"] for item in found.skipped}  # an SVG is skipped again
    index.skipped = [item for item in index.skipped if item["path"] not in retried] + found.skipped
    index.photo_like += found.photo_like
    for brand_id, words in found.logo_text.items():
        index.logo_text[brand_id] = sorted(set(index.logo_text.get(brand_id, [])) | set(words))
    embedded_brands = {brand_id for _, brand_id in embed}
    for brand_id, brand in gallery.brands.items():
        if brand_id in embedded_brands:  # not a brand `index remove` took out, all of whose files are left out
            index.brands.setdefault(brand_id, brand)
    for brand_id, brand in gallery.named.items():  # brands.json's names and aliases, new or changed
        if brand_id in index.brands:
            index.brands[brand_id] = brand
    present = set(index.brand_of)
    missing = [b for b in index.brands if b not in present]
    if missing:
        raise GalleryError(f"brand folder '{missing[0]}' in gallery '{gallery_dir}' has no usable image (unreadable or blank)")
    if found.paths or replaced or (index.brands, index.skipped, sorted(set(index.removed))) != unchanged:
        _replace_folder(index, Path(index_dir))  # nothing new or changed: a large index is not rewritten
    return index, done


def remove_from_index(
    index_dir: str | os.PathLike, brands: Sequence[str] = (), paths: Sequence[str] = ()
) -> tuple[GalleryIndex, int]:
    """Remove brands (with all their images) and single gallery images (paths as the index
    holds them, e.g. "nike/old_logo.png") from an index, without re-embedding the rest: the
    search structures are rebuilt from the vectors they hold, chosen by the new size as a build
    would. The paths taken out (a brand's: those indexed or skipped as unreadable) are kept in
    `GalleryIndex.removed`, so that `index add` of a gallery that still holds them leaves them
    out. Returns the index and how many images were removed."""
    index = GalleryIndex.load(index_dir, mmap=False, signatures=True)
    unknown = [b for b in brands if b not in index.brands]
    if unknown:
        raise GalleryError(f"index '{index_dir}' has no brand '{unknown[0]}'; 'visionguard index info' lists its brands")
    indexed = set(index.paths)
    missing = [p for p in paths if p not in indexed]
    if missing:
        if missing[0] in index.removed:
            raise GalleryError(f"image '{missing[0]}' was removed from index '{index_dir}' already")
        raise GalleryError(
            f"index '{index_dir}' has no image '{missing[0]}'; give the path as the index holds it, relative to "
            f"the gallery (e.g. '{index.paths[0]}')"
        )
    drop_brands, drop_paths = set(brands), set(paths)
    keep = np.array([b not in drop_brands and p not in drop_paths for p, b in zip(index.paths, index.brand_of)], bool)
    if not keep.any():
        raise GalleryError(f"that would leave index '{index_dir}' empty: build a new one instead")
    removed = int((~keep).sum())
    gone = [p for p, k in zip(index.paths, keep) if not k]
    gone += [item["path"] for item in index.skipped if item["path"].split("/", 1)[0] in drop_brands]
    if removed:
        _keep_rows(index, keep)
    left = set(index.brand_of)
    for brand_id in [b for b in index.brands if b not in left]:  # named, or emptied image by image
        del index.brands[brand_id]
        index.logo_text.pop(brand_id, None)
    index.skipped = [item for item in index.skipped
                     if item["path"] not in drop_paths and item["path"].split("/", 1)[0] not in drop_brands]
    index.removed = sorted(set(index.removed) | set(gone))
    _replace_folder(index, Path(index_dir))
    return index, removed


def _keep_rows(index: GalleryIndex, keep: np.ndarray, logos: np.ndarray | None = None,
               products: np.ndarray | None = None) -> None:
    """Keep the rows of `index` where `keep` is true, with the unit vectors `logos` and
    `products` appended (their paths are the caller's to append): the search structures are
    built again from the vectors they hold (no re-embedding), chosen by the new size as a build
    would; keypoints, photo-like marks and signatures follow."""
    kept_logos, kept_products = stored_vectors(index.vectors)[keep], stored_vectors(index.products)[keep]
    if logos is not None and products is not None:
        kept_logos = np.concatenate([kept_logos, logos.astype(np.float32)])
        kept_products = np.concatenate([kept_products, products.astype(np.float32)])
    index.vectors, index.products = vector_index(kept_logos), vector_index(kept_products)
    if index.keypoints is not None:
        index.keypoints = index.keypoints.subset(keep)
    index.paths = [p for p, k in zip(index.paths, keep) if k]
    index.brand_of = [b for b, k in zip(index.brand_of, keep) if k]
    kept = set(index.paths)
    index.photo_like = [p for p in index.photo_like if p in kept]
    if index.signatures is not None:
        index.signatures.keep(kept)


def stored_vectors(structure: faiss.Index) -> np.ndarray:
    """Every row of a flat or IVF index, in row order (IVF: decoded from its 8-bit codes)."""
    if isinstance(structure, faiss.IndexFlat):
        return structure.reconstruct_n(0, structure.ntotal)
    ivf = faiss.extract_index_ivf(structure)
    ivf.make_direct_map()
    try:
        return structure.reconstruct_n(0, structure.ntotal)
    finally:
        ivf.make_direct_map(False)


@dataclass
class _Embedded:
    logos: np.ndarray
    products: np.ndarray
    keypoints: list
    paths: list[str]
    brand_of: list[str]
    skipped: list[dict]
    photo_like: list[str]
    logo_text: dict[str, list[str]]
    signatures: dict[str, Signature]


class _LogoTextReader:
    """The words in a logo reference, by the scan's OCR (loaded on the first logo: seconds)."""

    def __init__(self) -> None:
        self._engine = None
        self._printed_words = None

    def __call__(self, image: np.ndarray) -> list[str]:
        if self._engine is None:
            from visionguard.ocr import EasyOcrEngine
            from visionguard.wordmark import printed_words  # wordmark.py searches indexes: imported late

            self._engine, self._printed_words = EasyOcrEngine(), printed_words
        try:
            tokens = self._engine.read(image)
        except Exception:  # noqa: BLE001 - the logo is indexed all the same; its text is only a hint
            return []
        return [token.text for token in self._printed_words(tokens)]


def _blank(image: np.ndarray) -> bool:
    """One colour, give or take JPEG noise: a blank reference would match every plain patch
    of every listing (a white logo saved on white is one)."""
    grey = cv2.cvtColor(cv2.resize(image, (64, 64), interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2GRAY)
    low, high = np.percentile(grey, (1, 99))
    return bool(high - low < 10)


def _logo_vectors(embedder: EmbeddingModel, arrays: list[np.ndarray], paths: list[str], vectors: np.ndarray,
                  margin: float | None) -> tuple[np.ndarray, list[int]]:
    """The gallery images' logo-space rows, and the logo references that look like photos (by
    position in `arrays`).

    Product photos (`copies_only`) get a zero vector, which matches nothing there and keeps
    the rows aligned with the copy space; with a `margin`, marks on a plain background are
    re-framed as the model was trained to see them (copies are still found on the files as
    they are). A reference without a plain border (`plain_background`) is a photo."""
    vectors = vectors.copy()
    logos = [i for i, path in enumerate(paths) if not copies_only(path)]
    vectors[[i for i, path in enumerate(paths) if copies_only(path)]] = 0.0
    photos = [i for i in logos if plain_background(arrays[i]) is None]
    if margin is not None:
        framed = {i: frame_mark(arrays[i], margin) for i in logos if i not in photos}
        if framed:
            vectors[list(framed)] = embedder.embed(list(framed.values()))
    return vectors, photos


def _embed_gallery(gallery: Gallery, embedder: EmbeddingModel, batch_size: int, progress: ProgressCallback | None,
                   margin: float | None, read_text: Callable[[np.ndarray], list[str]] | None = None,
                   signed: dict[str, Signature] | None = None) -> _Embedded:
    """Vectors (logo and product spaces), keypoints and file signatures of every readable
    gallery image, and the words `read_text` finds in the logo references that are marks, not photos.
    `signed`: signatures already read (`index add` hashed a changed file to find it changed),
    taken as they are: a gallery file is hashed once per add."""
    signed = signed or {}
    logos, products, keypoints = [], [], []
    paths: list[str] = []
    brand_of: list[str] = []
    skipped: list[dict] = [{"path": path, "error": why} for path, why in gallery.unread]
    photo_like: list[str] = []
    logo_text: dict[str, set[str]] = {}
    signatures: dict[str, Signature] = {}
    total = len(gallery.images)
    for start in range(0, total, batch_size):
        arrays = []
        for relative, brand_id in gallery.images[start : start + batch_size]:
            # before decoding: a file replaced meanwhile has the old one's signature, and the next add takes it again
            signature = signed.get(relative) or file_signature(gallery.root / relative)
            try:
                array = decode(gallery.root / relative)
            except DecodeError as error:
                skipped.append({"path": relative, "error": str(error)})
                continue
            if _blank(array):
                skipped.append({"path": relative, "error": "blank image (a single colour): nothing to recognise"})
                continue
            arrays.append(array)
            paths.append(relative)
            brand_of.append(brand_id)
            if signature is not None:
                signatures[relative] = signature
        if arrays:
            logo_vectors, product_vectors = embedder.embed_with_products(arrays)
            batch_paths, batch_brands = paths[len(paths) - len(arrays) :], brand_of[len(paths) - len(arrays) :]
            logo_vectors, photos = _logo_vectors(embedder, arrays, batch_paths, logo_vectors, margin)
            logos.append(logo_vectors)
            photo_like += [batch_paths[i] for i in photos]
            if read_text is not None:
                for i, array in enumerate(arrays):
                    if i not in photos and not copies_only(batch_paths[i]):
                        logo_text.setdefault(batch_brands[i], set()).update(read_text(array))
            products.append(product_vectors)
            keypoints += [extract_keypoints(trim_border(array), GALLERY_KEYPOINTS) for array in arrays]
        if progress:
            progress(min(start + batch_size, total), total)
    dims = (embedder.dim, embedder.product_dim or embedder.dim)
    return _Embedded(
        np.concatenate(logos) if logos else np.zeros((0, dims[0]), np.float32),
        np.concatenate(products) if products else np.zeros((0, dims[1]), np.float32),
        keypoints, paths, brand_of, skipped, photo_like,
        {brand: sorted(words) for brand, words in logo_text.items() if words}, signatures,
    )


def _check_writable_folder(folder: Path) -> None:
    """One sentence where an index cannot be written to `folder` (a file there or above it)."""
    for path in (folder, *folder.parents):
        if path.exists():
            if not path.is_dir():
                raise GalleryError(f"cannot write the index to '{folder}': '{path}' is a file")
            if not os.access(path, os.W_OK):
                raise GalleryError(f"cannot write the index to '{folder}': '{path}' is not writable")
            return


def _replace_folder(index: GalleryIndex, folder: Path) -> None:
    """Save next to `folder`, then swap: a crash mid-save never leaves a half-written index,
    and a scan that has the old files memory-mapped keeps reading them (files rewritten in
    place under a mapping end that process with a bus error)."""
    folder = folder.resolve()  # `--index .` has no name to put a suffix on
    staging = folder.with_name(folder.name + ".saving")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        index.save(staging)
    except BaseException as error:
        shutil.rmtree(staging, ignore_errors=True)
        if isinstance(error, OSError):  # a full disk, a folder made read-only meanwhile: the old index stands
            raise GalleryError(f"cannot write the index to '{folder}': {error.strerror or error}") from None
        raise
    try:
        if not folder.exists():
            staging.rename(folder)
        elif _exchange(staging, folder):  # one atomic step: the folder is never missing
            shutil.rmtree(staging, ignore_errors=True)
        else:  # no RENAME_EXCHANGE (not Linux, or a file system without it): two renames
            retired = folder.with_name(folder.name + ".old")
            shutil.rmtree(retired, ignore_errors=True)
            folder.rename(retired)
            staging.rename(folder)
            shutil.rmtree(retired, ignore_errors=True)
    except OSError as error:  # a mount point (EBUSY, EXDEV): the old index stands, no copy is left beside it
        shutil.rmtree(staging, ignore_errors=True)
        where = " (it is a mount point: mount the folder above it instead)" if os.path.ismount(folder) else ""
        raise GalleryError(f"cannot swap the new index in for '{folder}'{where}: {error.strerror or error}") from None


def _swappable(folder: Path) -> bool:
    """Whether a new index written beside `folder` can be swapped in: not where `folder` is a
    mount point (a Docker volume: EBUSY) or its parent folder is not writable."""
    folder = folder.resolve()
    return not os.path.ismount(folder) and os.access(folder.parent, os.W_OK)


def _exchange(first: Path, second: Path) -> bool:
    """Swap two paths atomically (Linux renameat2 RENAME_EXCHANGE); False where unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(first), at_fdcwd, os.fsencode(second), rename_exchange) == 0:
        return True
    error = ctypes.get_errno()
    if error in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(error, os.strerror(error), str(second))


def vector_index(vectors: np.ndarray, exact_limit: int | None = None, seed: int = 0) -> faiss.Index:
    """A FAISS inner-product index over unit `vectors`, chosen by size: exact below
    `exact_limit` (`EXACT_LIMIT`); above, IVF with 8-bit scalar codes (a quarter of the memory)
    and `nprobe` tuned on the data itself until Recall@1 against exact search reaches `TARGET_RECALL`."""
    exact_limit = EXACT_LIMIT if exact_limit is None else exact_limit
    count, dim = vectors.shape
    if count < exact_limit:
        index = faiss.IndexFlatIP(dim)
        index.add(vectors)
        return index
    lists = _lists_for(count)
    index = faiss.IndexIVFScalarQuantizer(
        faiss.IndexFlatIP(dim), dim, lists, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT
    )
    rng = np.random.default_rng(seed)
    index.train(vectors[rng.choice(count, min(count, 64 * lists), replace=False)])
    index.add(vectors)
    index.nprobe, _ = tune_nprobe(index, vectors, rng)
    return index


def _lists_for(count: int) -> int:
    """~sqrt(n) lists: k-means training stays minutes on a 2-core CPU even at 1280 dimensions."""
    return int(2 ** round(np.log2(np.sqrt(count))))


def grow_index(structure: faiss.Index, added: np.ndarray, exact_limit: int | None = None, seed: int = 0) -> faiss.Index:
    """`structure` with the unit vectors `added` appended (`index add`), searchable as a build
    of the whole would be, from the vectors it holds (no re-embedding): an exact index that
    reaches `exact_limit` becomes IVF; an IVF index gets its `nprobe` tuned again, and is
    trained again where the vectors no longer fit its lists (sqrt(n) is another power of two,
    or Recall@1 needs more than 4x the nprobe it had: new brands far from every list)."""
    exact_limit = EXACT_LIMIT if exact_limit is None else exact_limit
    before = structure.ntotal
    structure.add(np.ascontiguousarray(added, dtype=np.float32))
    if isinstance(structure, faiss.IndexFlat):
        if structure.ntotal < exact_limit:
            return structure
        # past the limit (also one an earlier version's add grew there): IVF, as a build would be
        return vector_index(structure.reconstruct_n(0, structure.ntotal), exact_limit, seed)
    ivf = faiss.extract_index_ivf(structure)
    # the earlier rows from their 8-bit codes (close enough to train on); the new ones as they
    # came: codes of vectors outside the range the quantizer was trained on are clipped
    vectors = np.concatenate([stored_vectors(structure)[:before], added]).astype(np.float32)
    if _lists_for(len(vectors)) == ivf.nlist:
        previous = ivf.nprobe
        nprobe, recall = tune_nprobe(structure, vectors, np.random.default_rng(seed))
        if recall >= TARGET_RECALL and nprobe <= 4 * previous:
            ivf.nprobe = nprobe
            return structure
    return vector_index(vectors, exact_limit, seed)


def tune_nprobe(index: faiss.Index, vectors: np.ndarray, rng: np.random.Generator, queries: int = 1000) -> tuple[int, float]:
    """Smallest power-of-two `nprobe` whose Recall@1 against exact search is >= TARGET_RECALL,
    on perturbed gallery vectors (queries near, not on, the gallery, as real listings are)."""
    sample = vectors[rng.choice(len(vectors), min(queries, len(vectors)), replace=False)]
    noisy = sample + rng.normal(0, 0.5 / np.sqrt(vectors.shape[1]), sample.shape).astype(np.float32)
    noisy /= np.linalg.norm(noisy, axis=1, keepdims=True)
    _, truth = faiss.knn(noisy, vectors, 1, metric=faiss.METRIC_INNER_PRODUCT)
    ivf = faiss.extract_index_ivf(index)
    nprobe, recall = 1, 0.0
    while nprobe <= ivf.nlist:
        ivf.nprobe = nprobe
        _, found = index.search(noisy, 1)
        recall = float(np.mean(found[:, 0] == truth[:, 0]))
        if recall >= TARGET_RECALL:
            break
        nprobe *= 2
    return min(nprobe, ivf.nlist), recall


def describe_search(index: faiss.Index) -> dict:
    """How an index searches, for index.json and `index info`."""
    if isinstance(index, faiss.IndexFlat):
        return {"type": "exact"}
    ivf = faiss.extract_index_ivf(index)
    return {"type": f"IVF{ivf.nlist},SQ8", "nprobe": int(ivf.nprobe)}
