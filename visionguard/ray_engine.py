"""The same scan on a Ray cluster (`pip install "visionguard[ray]"`), for more than one box can do.

Ray Data runs the pipeline; VisionGuard adds no distributed machinery of its own:

    inputs -> one read task per input (folder, file list, manifest, tar shard)
           -> `map_batches` actors, each holding one `Scanner` (index, model and OCR loaded once)
           -> result rows -> the usual sinks, on the driver.

The index folder is put in Ray's object store once and unpacked by each worker, so it reaches
every node without a shared file system. Ray restarts a killed worker and retries its batch;
a batch's rows are only handed on once the batch finished, so nothing is lost or written twice.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import shutil
import socket
import tempfile
import warnings
from pathlib import Path
from typing import Any, Collection, Iterator, Sequence

import numpy as np

from visionguard.errors import VisionGuardError
from visionguard.models import DEFAULT_RUNTIME
from visionguard.sources import ScanInput, input_key, input_names, iter_input, json_value

#: Columns of a Dataset of scan results: the verdict in scalars, and the whole result as JSON.
RESULT_COLUMNS = ("key", "path", "status", "brand", "risk", "result")
#: Columns `scan_dataset` takes an image from, in order: bytes, a decoded array or a file path.
IMAGE_COLUMNS = ("image", "bytes", "image_bytes", "image_path", "path", "file")
#: `read_inputs`' column for a file to open, as `os.fsencode` bytes.
_FILE_COLUMN = "_file"
_ERROR_COLUMN = "_error"  # an input that could not be read at all (`ScanInput.error`)


def _ray():
    try:
        import ray
    except ImportError:
        raise VisionGuardError('the Ray engine needs Ray: pip install "visionguard[ray]"') from None
    return ray


def connect(address: str | None = None, num_cpus: int | None = None) -> None:
    """Join a running Ray cluster (`address`: "auto", "HOST:6379" or "ray://HOST:10001"), or
    start a local one with `num_cpus` CPUs when `address` is None. Does nothing if Ray is up."""
    ray = _ray()
    if ray.is_initialized():
        return
    _check_reachable(address)
    try:
        ray.init(
            address=address,
            num_cpus=num_cpus if address is None else None,
            include_dashboard=False,
            logging_level=logging.WARNING,
            configure_logging=True,
        )
    except (ConnectionError, RuntimeError, ValueError) as error:
        raise VisionGuardError(f"cannot connect to the Ray cluster at '{address}': {error}") from None
    ray.data.DataContext.get_current().enable_progress_bars = False  # the CLI draws its own; a service wants none
    logging.getLogger("ray.data").setLevel(logging.WARNING)  # per-run execution plans
    logging.getLogger("ray.data._internal.progress").setLevel(logging.ERROR)  # "progress bars disabled"
    # Ray sizes the worker pool before our read tasks split each input into blocks: not a problem.
    warnings.filterwarnings("ignore", message="The minimum number of concurrent actors", category=UserWarning)


def _check_reachable(address: str | None, timeout: float = 10.0) -> None:
    """One sentence, in seconds, where HOST:PORT takes no connection: Ray itself retries for minutes."""
    if not address or address == "auto":
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    host = host.strip("[]")  # an IPv6 address is written [::1]:6379
    if not host or not port.isdigit():
        raise VisionGuardError(f"Ray address '{address}' is not auto, HOST:PORT or ray://HOST:PORT")
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as error:
        raise VisionGuardError(
            f"cannot connect to the Ray cluster at '{address}': {error.strerror or error} (is 'ray start --head' running there?)"
        ) from None


def read_inputs(inputs: Sequence[str | os.PathLike], skip: Collection[str] = ()) -> "ray.data.Dataset":
    """A Dataset of the images in `inputs` (the local engine's inputs: folders, file lists,
    manifests, tar shards), one read task per input, minus the keys in `skip` (`--resume`).
    Paths must be readable where the Ray workers run."""
    ray = _ray()
    specs = [os.fspath(spec) for spec in inputs]
    for spec in specs:
        if not os.path.exists(spec):
            raise VisionGuardError(f"input '{spec}' does not exist")
    skip_ref = [ray.put(set(skip))] if skip else []  # in a list: Ray hands the reference, not a copy per call
    # Ray gives each worker whole blocks and merges what a task yields into blocks of up to
    # 128 MiB: a folder would be one block for one worker. This dataset (not the caller's other
    # ones) keeps every row its own block; workers take them `batch_size` at a time.
    context = ray.data.DataContext.get_current().copy()
    context.target_max_block_size = 1
    previous = ray.data.DataContext._set_current(context)
    try:
        items = [{"spec": spec, "name": name} for spec, name in zip(specs, input_names(specs))]
        return ray.data.from_items(items, override_num_blocks=len(specs)).map_batches(
            _read_input,
            batch_size=1,
            num_cpus=0,  # listing files and reading tar shards; the CPUs are for the scan workers
            fn_kwargs={"prefix_folders": len(specs) > 1, "skip": skip_ref},
        )
    finally:
        ray.data.DataContext._set_current(previous)


def _read_input(batch: dict[str, np.ndarray], prefix_folders: bool, skip: list) -> Iterator[dict[str, list]]:
    skip_keys: set[str] = _ray().get(skip[0]) if skip else set()
    for spec, name in zip(batch["spec"], batch["name"]):
        block: list[ScanInput] = []
        for item in iter_input(str(spec), str(name), prefix_folders):
            if item.key in skip_keys:
                continue
            block.append(item)
            if len(block) >= 64:
                yield _input_rows(block)
                block = []
        if block:
            yield _input_rows(block)


def _input_rows(items: list[ScanInput]) -> dict[str, list]:
    """One uniform schema for files and tar members (a column never mixes text and bytes).
    File names travel as bytes (`os.fsencode`): a name that is not UTF-8 is no Arrow string."""
    return {
        _FILE_COLUMN: [os.fsencode(item.source) if isinstance(item.source, str) else b"" for item in items],
        "image_bytes": [item.source if isinstance(item.source, bytes) else b"" for item in items],
        _ERROR_COLUMN: [item.error or "" for item in items],
        "path": [item.path for item in items],
        "listing": [json.dumps(item.listing, ensure_ascii=False, default=str) for item in items],
    }


def scan_dataset(
    dataset: "ray.data.Dataset",
    index: str | os.PathLike,
    *,
    model: str | None = None,
    runtime: str = DEFAULT_RUNTIME,
    num_workers: int | None = None,
    cpus_per_worker: int = 1,
    **options: Any,
) -> "ray.data.Dataset":
    """Scan a Dataset of images on Ray; returns a Dataset of result rows (`RESULT_COLUMNS`;
    `json.loads(row["result"])` is the local engine's `ScanResult.to_dict()`).

    Rows give the image in one of `IMAGE_COLUMNS` (bytes, e.g. `read_binary_files`; an RGB
    array, e.g. `read_images`; or a file path), the result's path in `path`, and may carry a
    JSON `listing` column or any other columns, which go into `result.listing`. `options` are
    `ScanOptions` (ocr, ocr_detector, batch_size, small_logos, ...). `num_workers` defaults to
    the cluster's CPUs divided by `cpus_per_worker`.
    """
    ray = _ray()
    files = _index_files(index, model, runtime)
    if num_workers is None:
        num_workers = max(1, int(ray.cluster_resources().get("CPU", 1)) // cpus_per_worker)
    return dataset.map_batches(
        _ScanWorker,
        batch_size=options.get("batch_size", 8),
        batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(size=num_workers),
        num_cpus=cpus_per_worker,
        fn_constructor_kwargs={
            "index_files": [ray.put(files)],  # once, through the object store: no per-batch copies
            "model": model,
            "runtime": runtime,
            "threads": cpus_per_worker,
            "options": options,
        },
    )


def scan_inputs(
    inputs: Sequence[str | os.PathLike], index: str | os.PathLike, *, skip: Collection[str] = (), **kwargs: Any
) -> "ray.data.Dataset":
    """`read_inputs` then `scan_dataset`: what `visionguard scan --engine ray` runs."""
    return scan_dataset(read_inputs(inputs, skip), index, **kwargs)


def iter_results(results: "ray.data.Dataset") -> Iterator[dict[str, Any]]:
    """Stream result dictionaries (`ScanResult.to_dict()`) to the driver, as batches finish."""
    for batch in results.iter_batches(batch_format="pyarrow", batch_size=None):
        for text in batch.column("result").to_pylist():
            yield json.loads(text)


def _index_files(index: str | os.PathLike, model: str | None, runtime: str) -> dict[str, bytes]:
    """The index folder's files, after the checks the local engine makes (a clear error here,
    not one per worker). Opening the model also exports its ONNX graph into this machine's cache."""
    from visionguard.index import GalleryIndex

    gallery = GalleryIndex.load(index)
    gallery.check_model(gallery.open_model(model, runtime, index), index)
    return {path.name: path.read_bytes() for path in Path(index).iterdir() if path.is_file()}


class _ScanWorker:
    """A Ray Data actor: one `Scanner`, loaded once, scanning batch after batch."""

    def __init__(self, index_files: list, model: str | None, runtime: str, threads: int, options: dict) -> None:
        import torch

        from visionguard.scanner import Scanner

        torch.set_num_threads(threads)  # the runtimes size their thread pools from this
        folder = Path(tempfile.mkdtemp(prefix="visionguard-index-"))
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        for name, data in _ray().get(index_files[0]).items():
            (folder / name).write_bytes(data)
        self.scanner = Scanner.load(folder, model=model, runtime=runtime, **options)
        self.scanner.ocr_engine  # noqa: B018 - load before the first batch

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, list]:
        results = list(self.scanner.scan(batch_inputs(batch)))
        rows = [result.to_dict() for result in results]
        return {
            "key": [input_key(row["path"], row["listing"]) for row in rows],
            "path": [row["path"] for row in rows],
            "status": [row["status"] for row in rows],
            "brand": [row["brand"] for row in rows],
            "risk": [row["risk"] for row in rows],
            "result": [json.dumps(row, ensure_ascii=False) for row in rows],
        }


def batch_inputs(batch: dict[str, np.ndarray]) -> list[ScanInput]:
    """The `ScanInput`s of a numpy batch: the image from the first non-empty `IMAGE_COLUMNS`
    entry, the path from `path`, the listing from a JSON `listing` column and the other columns."""
    size = len(next(iter(batch.values()))) if batch else 0
    items = []
    for i in range(size):
        row = {column: _plain(values[i]) for column, values in batch.items()}
        error = row.pop(_ERROR_COLUMN, None) or None
        if _present(row.get(_FILE_COLUMN)):
            source = os.fsdecode(row.pop(_FILE_COLUMN))
        else:
            row.pop(_FILE_COLUMN, None)
            source = next((row[c] for c in IMAGE_COLUMNS if _present(row.get(c))), None)
        path = row.get("path") if isinstance(row.get("path"), str) and row.get("path") else None
        if path is None:
            path = source if isinstance(source, str) else f"<row {i}>"
        listing = json.loads(row["listing"]) if isinstance(row.get("listing"), str) else {}
        listing.update(
            {k: json_value(v) for k, v in row.items() if k not in IMAGE_COLUMNS and k != "listing" and not isinstance(v, np.ndarray)}
        )
        if source is None:
            items.append(ScanInput(b"", path, listing, error))  # no error: decodes to a clear "empty data" row
        else:
            items.append(ScanInput(source, path, listing, error))
    return items


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _present(value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, (str, bytes)):
        return len(value) > 0
    return isinstance(value, np.ndarray) and value.size > 0

