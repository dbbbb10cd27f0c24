"""Command-line interface: a thin layer over the Python API.

User mistakes print one line and exit with code 2; bad images are result lines, not errors.
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Optional

import typer

from visionguard import __version__
from visionguard.errors import VisionGuardError

app = typer.Typer(
    help="Find counterfeit listings from their photos: logos, altered brand names, stolen photos.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
index_app = typer.Typer(help="Build and inspect gallery indexes.", no_args_is_help=True)
app.add_typer(index_app, name="index")


def _fail(message: str, code: int = 2) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"visionguard {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Optional[bool] = typer.Option(
        None, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """VisionGuard command line."""


class _Progress:
    """A one-line progress display with rate and ETA on a terminal; silent in a pipe."""

    def __init__(self, total: int | None, label: str, enabled: bool) -> None:
        self.total, self.label, self.enabled = total, label, enabled and sys.stderr.isatty()
        self.started = time.perf_counter()
        self.done = 0

    def update(self, done: int, total: int | None = None) -> None:
        self.done, self.total = done, total or self.total
        if not self.enabled:
            return
        rate = done / max(time.perf_counter() - self.started, 1e-9)
        if self.total:
            eta = (self.total - done) / rate if rate > 0 else 0
            text = f"{self.label} {done}/{self.total}  {rate:.1f} img/s  ETA {eta:.0f}s"
        else:
            text = f"{self.label} {done}  {rate:.1f} img/s"
        sys.stderr.write("\r" + text.ljust(60))
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")


_DEFAULT_RUNTIME = "openvino"  # models.runtime.DEFAULT_RUNTIME, without importing torch for --help
_RUNTIME_HELP = (
    "Where the embedding model runs: openvino (the default: its ONNX graph, exported from the installed weights on "
    "first use and cached, on OpenVINO, in bfloat16 where the CPU computes it natively, else in float32; scan's "
    "--precision f32 forces float32; on a GPU ONNX Runtime runs it), onnx (ONNX Runtime, float32: the reference, "
    "3-4x faster than eager torch on a CPU; an index built with it is float32) or torch (eager PyTorch)."
)

_LOGO_TEXT_HELP = (
    "Read the words in the logo images with OCR (seconds to load, ~35 ms per logo): the scan then takes them for the "
    "brand's own, not for printed text that merely looks like its logo (the AppGallery logo says HUAWEI)."
)


@index_app.command("build")
def index_build(
    gallery_dir: Path = typer.Argument(
        ..., help="Gallery folder: GALLERY/<brand_id>/*.jpg|png (logos), GALLERY/<brand_id>/products/ (genuine product "
        "photos, found as copies only), optional brands.json."
    ),
    out: Path = typer.Option(..., "--out", "-o", help="Folder to write the index to."),
    model: str = typer.Option(
        None,
        "--model",
        help="Embedding model: a shipped name (visionguard-lite0-v2, the default trained logo model; "
        "visionguard-lite0-v1, its CPU-trained predecessor; efficientnet-lite0-imagenet, plain ImageNet features) "
        "or the path of a .safetensors file made by training/finetune.py or training/train.py.",
    ),
    batch_size: int = typer.Option(32, "--batch-size", min=1, help="Images embedded per batch."),
    runtime: str = typer.Option(_DEFAULT_RUNTIME, "--runtime", help=_RUNTIME_HELP),
    logo_text: bool = typer.Option(True, "--logo-text/--no-logo-text", help=_LOGO_TEXT_HELP),
) -> None:
    """Embed a gallery of genuine brand images into a searchable FAISS index."""
    from visionguard.index import build_index
    from visionguard.models import DEFAULT_MODEL

    _warn_uncalibrated(model)
    held_out = _removed_from(out)
    progress = _Progress(None, "indexing", enabled=True)
    try:
        index = build_index(gallery_dir, out, model=model or DEFAULT_MODEL, batch_size=batch_size, progress=progress.update,
                            runtime=runtime, read_logo_text=logo_text)
    except VisionGuardError as error:
        progress.close()
        _fail(str(error))
    progress.close()
    for item in index.skipped:
        typer.echo(f"warning: skipped gallery image {item['path']}: {item['error']}", err=True)
    _warn_photo_like(index.photo_like)
    typer.echo(
        f"indexed {len(index)} images of {len(index.brands)} brands with {index.model['name']} "
        f"(logo {index.model['dim']}-d, photo {index.model['product_dim']}-d) into {out}"
        + (f"; skipped {len(index.skipped)} unreadable or blank images" if index.skipped else "")
    )
    back = sorted(set(held_out) & set(index.paths))
    if back:
        typer.echo(
            f"note: this build indexes again {len(back)} images 'index remove' had taken out of the index it replaces "
            f"(e.g. {back[0]}): a build starts without removals; 'visionguard index remove' them again, or delete "
            "them from the gallery",
            err=True,
        )


def _removed_from(folder: Path) -> list[str]:
    """The paths an index folder's earlier `index remove` took out (none where it is no index)."""
    try:
        removed = json.loads((folder / "index.json").read_text(encoding="utf-8")).get("removed", [])
    except (OSError, ValueError, AttributeError):
        return []
    return [path for path in removed if isinstance(path, str)] if isinstance(removed, list) else []


@index_app.command("add")
def index_add(
    gallery_dir: Path = typer.Argument(..., help="Gallery folder with new images: GALLERY/<brand_id>/*.jpg|png, product photos under <brand_id>/products/."),
    index_dir: Path = typer.Option(..., "--index", "-i", help="Index folder to add them to (updated in place)."),
    model: str = typer.Option(None, "--model", help="Only for an index built with a .safetensors file: its path."),
    batch_size: int = typer.Option(32, "--batch-size", min=1, help="Images embedded per batch."),
    runtime: str = typer.Option(_DEFAULT_RUNTIME, "--runtime", help=_RUNTIME_HELP),
    logo_text: bool = typer.Option(True, "--logo-text/--no-logo-text", help=_LOGO_TEXT_HELP),
    readd_removed: bool = typer.Option(
        False, "--readd-removed", help="Also add the images 'visionguard index remove' took out (left out otherwise)."
    ),
) -> None:
    """Add new genuine images (paths not yet in the index) without a rebuild, and embed again the indexed files replaced
    under the same name since; images 'index remove' took out stay out; brands.json's names and aliases are updated."""
    from visionguard.index import GalleryIndex, add_to_index

    progress = _Progress(None, "adding", enabled=True)
    try:
        earlier = GalleryIndex.load(index_dir)
        before, names = {item["path"] for item in earlier.skipped}, earlier.brands
        index, done = add_to_index(gallery_dir, index_dir, model=model, batch_size=batch_size, progress=progress.update,
                                   runtime=runtime, read_logo_text=logo_text, readd_removed=readd_removed)
    except VisionGuardError as error:
        progress.close()
        _fail(str(error))
    progress.close()
    embedded = {*done.added, *done.replaced}
    skipped = [item for item in index.skipped if item["path"] not in before]
    for item in skipped:
        typer.echo(f"warning: skipped gallery image {item['path']}: {item['error']}", err=True)
    _warn_photo_like([path for path in index.photo_like if path in embedded])
    if done.held_back:
        typer.echo(
            f"note: left out {len(done.held_back)} images 'index remove' took out (e.g. {done.held_back[0]}); "
            "--readd-removed adds them back",
            err=True,
        )
    if done.unsigned:
        typer.echo(
            f"note: {len(done.unsigned)} indexed images have no file signature (indexed before VisionGuard recorded them) "
            "and are taken as unchanged: a file replaced under the same name is not noticed until the index is built again",
            err=True,
        )
    renamed = [b for b in names if index.brands[b] != names[b]]
    typer.echo(
        f"added {len(done.added)} images"
        + (f", replaced {len(done.replaced)} whose file changed since (e.g. {done.replaced[0]})" if done.replaced else "")
        + f"; {index_dir} now holds {len(index)} images of {len(index.brands)} brands"
        + (f"; skipped {len(skipped)} unreadable or blank images" if skipped else "")
        + (f"; names or aliases of {len(renamed)} brands updated from brands.json (e.g. {renamed[0]})" if renamed else "")
    )


@index_app.command("remove")
def index_remove(
    index_dir: Path = typer.Argument(..., help="Index folder (updated in place)."),
    brands: list[str] = typer.Option(None, "--brand", "-b", help="Brand id to remove with all its images; repeat for more."),
    images: list[str] = typer.Option(
        None, "--image", help="Gallery image to remove, its path as the index holds it (e.g. nike/old_logo.png); repeat for more."
    ),
) -> None:
    """Remove brands or single gallery images from an index, without re-embedding the rest."""
    from visionguard.index import remove_from_index

    if not brands and not images:
        _fail("name what to remove: --brand BRAND_ID and/or --image BRAND_ID/FILE ('visionguard index info' lists them)")
    try:
        index, removed = remove_from_index(index_dir, brands=brands or (), paths=images or ())
    except VisionGuardError as error:
        _fail(str(error))
    typer.echo(
        f"removed {removed} images; {index_dir} now holds {len(index)} images of {len(index.brands)} brands"
        + ("; 'index add' leaves them out (--readd-removed adds them back)" if removed else "")
    )


def _warn_uncalibrated(model: str | None) -> None:
    """A model file whose card has no thresholds scans with generic ones (the ImageNet baseline's)."""
    if not model or not model.endswith(".safetensors"):
        return
    try:
        calibrated = "thresholds" in json.loads(Path(model).with_suffix(".json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return  # the model's own loading says what is wrong with it
    if not calibrated:
        typer.echo(
            f"warning: model '{model}' has no calibrated thresholds (training.calibrate writes them into its card): "
            "scans use generic ones, which suit it badly",
            err=True,
        )


def _warn_photo_like(paths: list[str]) -> None:
    """Logo images that look like photos would match logo-free listings: say where they belong."""
    if paths:
        typer.echo(
            f"warning: {len(paths)} logo images look like photos (e.g. {paths[0]}): a photo among the "
            "logo references matches logo-free listings; put genuine product photos under <brand_id>/products/, "
            "where they are found as copies only",
            err=True,
        )


@index_app.command("info")
def index_info(index_dir: Path = typer.Argument(..., help="Index folder.")) -> None:
    """Describe an index: model, size, search structure and brands."""
    from visionguard.gallery import copies_only
    from visionguard.index import GalleryIndex, describe_search

    try:
        index = GalleryIndex.load(index_dir, signatures=True)
    except VisionGuardError as error:
        _fail(str(error))
    counts = Counter(index.brand_of)
    typer.echo(
        f"model: {index.model['name']} (logo {index.model['dim']}-d, photo {index.model['product_dim']}-d, "
        f"sha256 {index.model['checksum'][:12]})"
    )
    products = sum(copies_only(path) for path in index.paths)
    typer.echo(f"images: {len(index)} ({products} product photos, copies only)   brands: {len(index.brands)}")
    if index.photo_like:
        typer.echo(f"logo images that look like photos: {len(index.photo_like)} (e.g. {index.photo_like[0]})")
    if index.removed:
        typer.echo(f"removed with 'index remove', left out by 'index add': {len(index.removed)} (e.g. {index.removed[0]})")
    unsigned = len(index) - sum(path in index.signatures for path in index.paths)
    typer.echo(
        "changed files: found by 'index add' (size, time, SHA-256)" if not unsigned else
        f"changed files: {unsigned} images have no file signature (indexed before VisionGuard recorded them), "
        "taken as unchanged by 'index add'; build the index again to record them"
    )
    search = describe_search(index.vectors)
    typer.echo(f"search: {search['type']}" + (f", nprobe {search['nprobe']}" if "nprobe" in search else ""))
    if index.keypoints is None:
        copies = "by similarity alone (no keypoints: rebuild the index for verification)"
    elif index.keypoints.thumbnails is None:
        copies = "keypoints only (no thumbnails: rebuild the index for the pixel check)"
    else:
        copies = "keypoints and thumbnails"
    typer.echo(f"copy verification: {copies}")
    margin = index.model.get("gallery_margin")
    typer.echo("gallery logos: " + (f"re-framed with a {margin:.0%} margin" if margin is not None else "as the files are"))
    for brand in index.brands.values():
        aliases = f" (aliases: {', '.join(brand.aliases)})" if brand.aliases else ""
        words = index.logo_text.get(brand.id)
        text = f"; its logos read: {', '.join(words)}" if words else ""
        typer.echo(f"  {brand.id}: {brand.name}{aliases}, {counts[brand.id]} images{text}")


@app.command("scan")
def scan(
    inputs: list[Path] = typer.Argument(
        ...,
        help="Folders (walked recursively), image files, file lists (.txt, .lst: one path per line), manifests (.csv, .jsonl, .parquet: "
        "an image column plus listing_id, seller_id, title, claimed_brand, ... carried into the results; a title column is also "
        "matched for altered brand names, and a photo showing another brand than claimed_brand (or, without it, than the "
        "title names) is a reason; CSV by commas, or ';', tabs or '|' where the header has no comma) or tar shards (.tar). "
        "Images named by URL get an error line: nothing is downloaded.",
    ),
    index: Path = typer.Option(..., "--index", "-i", help="Index folder made by 'visionguard index build'."),
    out: Path = typer.Option(
        ..., "--out", "-o", help="Results file: .jsonl (one JSON object per input image), .csv or .parquet (one row per image)."
    ),
    ocr: bool = typer.Option(
        True, "--ocr/--no-ocr", help="Read text in the images (brand names, imitations). Without OCR a printed word that looks "
        "like a wordmark logo can be taken for that logo: the wordmark check needs the words.",
    ),
    model: str = typer.Option(
        None, "--model", help="Embedding model (name or .safetensors path); must be the one the index was built with."
    ),
    batch_size: int = typer.Option(8, "--batch-size", min=1, help="Images per batch."),
    workers: int = typer.Option(
        2, "--workers", min=1, help="Batches scanned at once, each on its own thread and share of the cores "
        "(local engine; on 2 cores 2 workers ran 1.28x faster than 1, for ~450 MB more peak memory).",
    ),
    runtime: str = typer.Option(_DEFAULT_RUNTIME, "--runtime", help=_RUNTIME_HELP),
    device: str = typer.Option(
        "cpu", "--device", help="cpu (the default), or cuda: run the embedding model and both OCR networks on a GPU "
        "(needs a CUDA build of torch and onnxruntime-gpu; local engine only).",
    ),
    precision: str = typer.Option(
        "auto", "--precision", help="Arithmetic of the networks on OpenVINO (on a CPU the text detector and EasyOCR's recogniser; the embedding with "
        "--runtime openvino): auto (the default: bf16 where the CPU computes bfloat16 natively, AVX512-BF16 or AMX, else "
        "f32, the recogniser then on ONNX Runtime), f32 (the reference) or bf16 (the detector 1.6x, the embedding 1.4x and the recogniser 1.5x faster here; what it changes is measured in docs/performance.md, 'Precision').",
    ),
    ocr_detector: str = typer.Option(
        "ppocr",
        "--ocr-detector",
        help="Text detector: ppocr (PP-OCRv4, the default: ~13x faster than craft on ONNX Runtime, and on a CPU it runs on OpenVINO, 1.5x faster again), ppocr-int8 (the same "
        "quantised to int8 on first use, ~25 s once, then cached; no faster than ppocr on OpenVINO, see docs/performance.md, 'Coarse-to-fine text detection') or craft "
        "(EasyOCR's own); EasyOCR's recogniser reads the boxes either way, and PP-OCRv4's re-reads names flagged as altered.",
    ),
    ocr_coarse_side: int = typer.Option(
        0, "--ocr-coarse-side", min=0, help="With a ppocr detector: look for text on the photo shrunk to N pixels first and "
        "run the full-size detector only around what it finds (0: one full-size pass).",
    ),
    ocr_side: int = typer.Option(
        0, "--ocr-side", min=0, help="With a ppocr detector: detect text on the photo shrunk to N pixels on its longer side "
        "(0: 960); words are still read at full resolution. On 800x800 bench photos 640 scanned 1.17-1.18x and 512 1.36-1.42x faster with "
        "nearly the same findings (512 misread a wordmark logo on 8 of 10,000), but missed more words under 20 px high "
        "(docs/performance.md, 'Text-detection size').",
    ),
    text_cells: bool = typer.Option(
        False, "--text-cells", help="With a ppocr detector (not --ocr-coarse-side): run it only on full-width bands around the rows where the "
        "model's text-cell probe (a linear probe on the logo trunk's map, computed anyway) sees possible text, and not at all "
        "on photos where it sees none (scans 1.1x faster in float32, 1.06-1.10x in bfloat16; see docs/performance.md, 'Text cells').",
    ),
    ocr_alternatives: bool = typer.Option(
        False, "--ocr-alternatives", help="Also write each OCR character's runner-up readings (look-alike evidence)."
    ),
    small_logos: bool = typer.Option(
        False, "--small-logos", help="Also search small windows, for logos of 10-20% of the photo width (25 crop windows instead of 9)."
    ),
    refine: bool = typer.Option(
        True, "--refine/--no-refine", help="Look again, with more windows around where it matched, at photos whose best brand "
        "scores just under the threshold (default model): more logos found, 1-7% fewer images/s on the bench (README, 'Second look')."
    ),
    shard_size: int = typer.Option(
        0, "--shard-size", min=0, help="Split results into files of N results: OUT-00000.jsonl, OUT-00001.jsonl, ... (0: one file)."
    ),
    resume: bool = typer.Option(
        False, "--resume", help="Continue an interrupted scan: keep the lines already in --out, scan only the rest."
    ),
    summary: bool = typer.Option(True, "--summary/--no-summary", help="Print a summary table at the end."),
    engine: str = typer.Option(
        "local", "--engine", help="local (this process) or ray (Ray Data workers; needs visionguard\\[ray])."
    ),
    address: str = typer.Option(
        None, "--address", help="With --engine ray: the cluster to join (auto, HOST:6379 or ray://HOST:10001); default: start a local one."
    ),
    num_workers: int = typer.Option(
        None, "--num-workers", min=1, help="With --engine ray: scan workers (one CPU each); default: one per CPU of the cluster."
    ),
) -> None:
    """Scan listing photos for brands, altered brand names and copies of genuine photos."""
    from visionguard.sinks import CSV_CELL_LIMIT, ResultsWriteError, ShardedSink, open_sink
    from visionguard.sources import iter_inputs

    started = time.perf_counter()
    job = _Tally()  # the whole results file(s): what earlier runs wrote (read back with --resume) and this run's
    progress = None
    sink = None
    try:
        total, done, stale_shards = _plan(inputs, out, shard_size, resume, job)
        already, read_back = sum(done.values()), time.perf_counter() - started
        sink = ShardedSink(out, shard_size, append=resume) if shard_size else open_sink(out, append=resume)
        options = dict(
            ocr=ocr, ocr_detector=ocr_detector, ocr_coarse_side=ocr_coarse_side or None, ocr_side=ocr_side or None, text_cells=text_cells, batch_size=batch_size,
            ocr_alternatives=ocr_alternatives, small_logos=small_logos, refine=refine, device=device, precision=precision,
        )
        settings = _scan_settings(index, model, runtime, options)
        if resume and already:
            _refuse_other_settings(out, settings)
        elif resume:  # nothing kept to resume from (a missing or empty OUT): say so, in case --out is mistyped
            typer.echo(f"note: no results in {_results_named(out, shard_size)} to resume from: scanning all {total} images", err=True)
        if already == total:  # a finished job resumed: nothing to load or scan
            typer.echo(f"nothing left to scan: all {total} images have their results in {_results_named(out, shard_size)}", err=True)
            rows = iter(())
        elif engine == "local":
            from visionguard.scanner import Scanner  # torch and the rest: seconds, not needed for a finished job

            scanner = Scanner.load(index, model=model, runtime=runtime, workers=workers, **options)
            scanner.ocr_engine  # noqa: B018 - load now: a missing OCR dependency is one sentence, not an error per image
            pending = (item for item in iter_inputs(inputs) if not _take(done, item.key))  # streamed: flat memory
            rows = (result.to_dict() for result in scanner.scan(pending))
        elif engine == "ray":
            from visionguard import ray_engine

            if device != "cpu":
                raise VisionGuardError(f"--device {device} runs with the local engine only; Ray workers scan on their CPUs")
            ray_engine.connect(address)
            results = ray_engine.scan_inputs(
                inputs, index, skip=done, model=model, runtime=runtime, num_workers=num_workers, **options
            )
            rows = ray_engine.iter_results(results)
        else:
            raise VisionGuardError(f"unknown engine '{engine}'; choose local or ray")
        if already and already < total:
            typer.echo(f"resuming: {already} of {total} images already in {_results_named(out, shard_size)} "
                       f"(read back and checked against the inputs in {read_back:.1f} s)", err=True)
        progress = _Progress(max(total - already, 0), "scanning", enabled=True)
        for shard in stale_shards:  # the new scan may write fewer: none of the old may stay beside it
            shard.unlink()
        with sink:
            if not already:  # now that OUT is emptied: a scan stopped before this leaves OUT and its record as they were
                _record_settings(out, settings)
            for row in rows:
                sink.write_row(row)
                job.add(row)
                progress.update(sink.count)
    except ResultsWriteError as error:
        if progress:
            progress.close()
        if out.suffix.lower() == ".parquet":  # readable only once closed: what it took is lost (the sink removed it)
            _fail(f"{error}; " + ("the shards before it are complete, the last one was not written" if shard_size else
                                  f"no results were written to '{out}' (an earlier file of that name is left as it was)")
                  + ": run the scan again once the results can be written")
        _fail(f"{error}; {already + sink.count} of {total} images have their results in {_results_named(out, shard_size)} "
              f"({_how_to_finish(out)} once the results can be written)")
    except VisionGuardError as error:
        if progress:
            progress.close()
        _fail(str(error))
    except Exception as error:  # a Ray worker's failure arrives wrapped in Ray's exception types
        if not type(error).__module__.startswith("ray."):
            raise
        if progress:
            progress.close()
        _fail(f"the Ray scan failed: {str(error).strip().splitlines()[-1]}")
    except KeyboardInterrupt:
        if progress:
            progress.close()
        if sink is None:
            _fail("interrupted before the scan started", code=130)
        _fail(f"interrupted; {already + sink.count} of {total} images have their results in {_results_named(out, shard_size)} "
              f"({_how_to_finish(out)})", code=130)
    progress.close()
    elapsed = time.perf_counter() - started
    if sink.cut_cells:
        typer.echo(
            f"note: {sink.cut_cells} CSV cells were longer than a spreadsheet cell holds ({CSV_CELL_LIMIT:,} characters) "
            "and were cut, ending in '...[cut by VisionGuard: ...]'; a .jsonl or .parquet --out keeps them whole",
            err=True,
        )
    if summary:
        _print_summary(job, sink.count, already, elapsed, _results_named(out, shard_size))


def _plan(inputs: list[Path], out: Path, shard_size: int, resume: bool,
          job: "_Tally | None" = None) -> tuple[int, Counter[str], list[Path]]:
    """Check the inputs and the results file(s) against each other before anything loads: the
    number of inputs; with --resume the keys already done (with their multiplicity: an input
    listed twice has two lines), and each result already written counted into `job` (the same
    pass over the file); without it, an earlier scan's shards, to be removed when the new one
    starts. Refuses what would lose or mix up results."""
    from visionguard.sinks import finished_keys, open_sink, shard_paths
    from visionguard.sources import IMAGE_EXTENSIONS, iter_keys

    open_sink(out)  # a results name it cannot write (.json, .txt) is refused before "replacing" is announced
    parts = shard_paths(out) if shard_size else [out]
    written = {part.resolve() for part in parts}
    for spec in inputs:
        if spec.is_file() and spec.resolve() in written:
            raise VisionGuardError(f"the results file '{spec}' is also an input: write the results (--out) to another file")
    if resume:
        if out.suffix.lower() != ".jsonl":
            raise VisionGuardError("--resume needs a .jsonl results file (--out), the format it can read back")
        if shard_size and out.is_file():
            raise VisionGuardError(f"cannot resume with --shard-size: '{out}' holds an unsharded scan; resume without it")
        if not shard_size and shard_paths(out):
            raise VisionGuardError(f"cannot resume: the results are in shards ({shard_paths(out)[0].name}, ...); resume with --shard-size")
    done: Counter[str] = Counter()
    for part in parts if resume else []:
        done.update(finished_keys(part, job.add if job is not None else None))
    unmatched, total = done.copy(), 0
    for key in iter_keys(inputs):
        total += 1
        if unmatched[key] > 0:
            unmatched[key] -= 1
    if total == 0:
        named = ", ".join(f"'{p}'" for p in inputs)
        kinds = ", ".join(sorted(suffix.lstrip(".") for suffix in IMAGE_EXTENSIONS))
        raise VisionGuardError(f"input {named} {'has' if len(inputs) == 1 else 'have'} no image files ({kinds})")
    stray = +unmatched
    if stray:
        several = any(spec.is_dir() for spec in inputs) and len(inputs) > 1
        raise VisionGuardError(
            f"cannot resume: {sum(stray.values())} of the {sum(done.values())} results in '{out}' are for images that "
            f"are not among these inputs (e.g. '{next(iter(stray)).split(chr(9))[0]}'): resume with the inputs of the "
            "interrupted scan, or scan to a new --out"
            + ("; with several inputs a folder's result paths start with its name, so a folder scanned alone "
               "before cannot be resumed with another input beside it (scan the new one to its own --out)" if several else "")
        )
    earlier = [part for part in parts if part.is_file() and part.stat().st_size] if not resume else []
    if earlier:
        what = f"{len(earlier)} result shards" if shard_size else "the results"
        # --resume reads back JSONL only, and continues only results that cover fewer images than these
        # inputs (an interrupted scan): a finished one would scan nothing, so it is not offered there
        resumable = " (--resume would continue it)" if out.suffix.lower() == ".jsonl" and _whole_lines(earlier, total) < total else ""
        typer.echo(f"replacing {what} of an earlier scan in '{out}'{resumable}", err=True)
    # every earlier shard goes, an empty one too (a kill between opening a shard and writing its first
    # line leaves one): kept, it lingered beside the new scan's shards, and a resume numbered on after it
    return total, done, [part for part in parts if part.is_file()] if shard_size and not resume else []


def _whole_lines(parts: list[Path], limit: int) -> int:
    """How many whole lines (results) the files `parts` hold, counted up to `limit` (newlines
    only, no JSON: 200,000 results of ~830 bytes in 0.06-0.08 s from the page cache here; and no
    further than `limit`)."""
    count = 0
    for part in parts:
        try:
            with open(part, "rb") as handle:
                while count < limit and (chunk := handle.read(1 << 20)):
                    count += chunk.count(b"\n")
        except OSError:
            continue  # unreadable: the scan that replaces it says so when it writes
        if count >= limit:
            break
    return count


def _scan_settings(index: Path, model: str | None, runtime: str, options: dict) -> dict:
    """What a scan's verdicts depend on: the index as built, the model and the options (not
    how the work is spread: workers, batch size, engine)."""
    try:
        meta = json.loads((index / "index.json").read_text(encoding="utf-8"))
        built = {"index_created": meta.get("created"), "index_images": meta.get("count")}
        indexed = meta.get("model") if isinstance(meta.get("model"), dict) else {}
        if indexed.get("name") and indexed.get("checksum"):
            # the scan runs the index's own model (Scanner.load refuses any other), however --model
            # spells it: left out, by name, or its .safetensors by a relative or an absolute path
            model = f"{indexed['name']} ({str(indexed['checksum'])[:12]})"
    except (OSError, ValueError, AttributeError):
        built = {}  # loading the index says what is wrong with it
    chosen = {key: value for key, value in options.items() if key != "batch_size"}
    return {"index": str(index.resolve()), **built, "model": model, "runtime": runtime, **chosen}


def _settings_file(out: Path) -> Path:
    return out.with_name(out.name + ".scan.json")


def _refuse_other_settings(out: Path, settings: dict) -> None:
    """--resume with another index or other options than those kept beside a .jsonl results
    file (`_record_settings`) would mix two kinds of verdicts in one file without a word."""
    try:
        earlier = json.loads(_settings_file(out).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return  # a scan from before settings were kept, or a damaged record: nothing to compare
    if not isinstance(earlier, dict):
        return
    changed = [f"{key} {earlier.get(key)!r}, now {settings.get(key)!r}"
               for key in sorted(set(earlier) | set(settings)) if earlier.get(key) != settings.get(key)]
    if changed:
        raise VisionGuardError(
            f"cannot resume: the results in '{out}' were scanned with other settings ({'; '.join(changed[:3])}"
            f"{'; ...' if len(changed) > 3 else ''}): resume with the interrupted scan's index and options, "
            f"or scan to a new --out (deleting '{_settings_file(out).name}' resumes anyway, mixing the two)"
        )


def _record_settings(out: Path, settings: dict) -> None:
    """Beside a .jsonl results file (the format --resume reads back), the settings it is scanned with."""
    if out.suffix.lower() != ".jsonl":
        return
    try:
        _settings_file(out).write_text(json.dumps(settings, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    except OSError as error:
        raise VisionGuardError(f"cannot write results to '{out}': {error.strerror or error}") from None


def _results_named(out: Path, shard_size: int) -> str:
    """Where a scan's results are: OUT, or with --shard-size its shards OUT-00000..., as the user looks for them."""
    return str(out.with_name(f"{out.stem}-NNNNN{out.suffix}")) if shard_size else str(out)


def _how_to_finish(out: Path) -> str:
    """What finishes a scan that stopped early: --resume reads back JSONL only."""
    if out.suffix.lower() == ".jsonl":
        return "add --resume to finish the scan"
    return (f"a {out.suffix.lower()} scan cannot be resumed: run it again to scan everything, "
            "or scan to a .jsonl file, which --resume can finish")


def _take(done: Counter[str], key: str) -> bool:
    """Whether `key` is one of the inputs already done (using one of its lines up)."""
    if done[key] > 0:
        done[key] -= 1
        return True
    return False


_SUMMARY_ROWS = 25


def _summary_order(row: tuple) -> tuple:
    """Highest risk first, errors after the risky images."""
    status, risk, path, _ = row
    return (status == "error", -risk, path)


class _Tally:
    """What the summary reports, counted one result at a time in flat memory: results per
    verdict, and the most serious ones (highest risk, then errors) for its table."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.flagged: list[tuple[str, float, str, str]] = []

    def add(self, row: dict) -> None:
        """Count one result (`ScanResult.to_dict()`, or a line read back from a results file,
        which may come from an older version: missing fields count as empty)."""
        status = "error" if row.get("status") == "error" else "ok"
        try:
            risk = float(row.get("risk") or 0.0)
        except (TypeError, ValueError):
            risk = 0.0
        self.counts[status] += 1
        self.counts["brand"] += row.get("brand") is not None
        self.counts["altered"] += bool(row.get("altered"))
        self.counts["duplicate"] += row.get("duplicate_of") is not None
        claimed = row.get("claimed_brands")
        self.counts["other_brand"] += bool(row.get("brand") and isinstance(claimed, list) and claimed and row.get("brand") not in claimed)
        self.counts["high_risk"] += risk >= 0.5
        if status == "error" or risk > 0:
            reasons = row.get("reasons")
            # an error line may carry its title's findings too: both are shown
            why = "; ".join(([str(row["error"])] if row.get("error") else []) + (list(map(str, reasons)) if isinstance(reasons, list) else []))
            self.flagged.append((status, risk, str(row.get("path")), str(why)))
            if len(self.flagged) > 10 * _SUMMARY_ROWS:  # flat memory on millions of flagged images
                self.flagged = self.top()

    @property
    def total(self) -> int:
        return self.counts["ok"] + self.counts["error"]

    def top(self) -> list[tuple[str, float, str, str]]:
        return sorted(self.flagged, key=_summary_order)[:_SUMMARY_ROWS]


def _print_summary(job: _Tally, scanned: int, earlier: int, elapsed: float, out: str) -> None:
    """The whole job's results (with --resume, earlier runs' too), then this run's throughput.
    On a terminal the table takes its width; in a pipe it is 80 columns, without colour."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    # as plain text: a path or a word read in a photo that looks like markup ('[/]', '[red]') is shown
    # as it is, not styled or failing; unhighlighted: it coloured the '3.' of '3.2 s' apart from its '2 s'
    console = Console(soft_wrap=True, highlight=False, markup=False)
    table = Table(title=Text(f"VisionGuard scan: {job.total} images -> {out}"), show_lines=False)
    for column in ("risk", "path", "why"):
        table.add_column(column, overflow="fold")
    for status, risk, path, why in job.top():
        table.add_row("error" if status == "error" else f"{risk:.2f}", Text(path), Text(why))
    console.print(table)
    counts = job.counts
    verdicts = (f"ok {counts['ok']}  errors {counts['error']}  branded {counts['brand']}  altered names {counts['altered']}  "
                f"copied photos {counts['duplicate']}  high risk (>=0.5) {counts['high_risk']}")
    if counts["other_brand"]:  # only manifests claim brands
        verdicts += f"  other brand than claimed {counts['other_brand']}"
    rate = f"{elapsed:.1f} s, {scanned / max(elapsed, 1e-9):.2f} images/s (loading included)"
    if not earlier:  # the run is the whole job
        console.print(f"{verdicts}  | {scanned} images in {rate}")
        return
    console.print(f"whole job: {job.total} images ({f'{earlier} from earlier runs' if scanned else 'all from earlier runs'})  {verdicts}")
    console.print(f"this run: {scanned} images in {rate}" if scanned else "this run: nothing left to scan")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
