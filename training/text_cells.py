"""Train the text-cell probe: where on a photo the logo trunk sees text, for the scan's OCR gate.

The scan already runs the logo trunk over every photo (the shared crop-window pass: a 20x20
map of 112-channel cells). A linear probe on those cells, taught by PP-OCRv4's detector run at
full size on the same photos, says which cells may hold text; with `--text-cells` the scan
runs the detector only on full-width bands around the rows of those cells, and not at all on a
photo without any. Detection is over half of a scan's work per photo; the probe takes 0.05 ms.

    .venv/bin/python -m training.text_cells --photos DIR [DIR ...] [--model WEIGHTS.safetensors]

Writes `NAME.text-cells.safetensors` beside the model's weights (weight (2, C): a cell's own
channels and the mean of its 3x3 neighbourhood; bias; threshold) and records it in the model
card under "text_cells" with its SHA-256, the data and the coverage measured on `--eval`
folders. The teacher's boxes and trunk maps are cached in `--cache` (one .npz per folder),
so a re-run only refits. Photos: any folders of .jpg/.png (recursive); training/README.md
lists the ones the shipped probe was fitted on.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from training import run
from visionguard.embed import crop_boxes
from visionguard.decode import decode
from visionguard.errors import DecodeError, VisionGuardError
from visionguard.models.base import file_sha256
from visionguard.models.lite0_metric import TEXT_CELLS_SUFFIX, TrainedLite0, _window_cells, packaged_weights, text_cell_logits

#: Thresholds reported on the evaluation folders; `--threshold` picks the shipped one.
REPORTED_THRESHOLDS = (0.02, 0.05, 0.1, 0.2)


def photo_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))


def extract(model: TrainedLite0, folder: Path, cache: Path) -> tuple[np.ndarray, list[np.ndarray]]:
    """Trunk maps (N, C, rows, cols) and the teacher's boxes (x0, y0, x1, y1 as fractions of
    the photo) for every photo of `folder`, cached."""
    from visionguard.ocr import PpOcrDetector

    target = cache / f"{folder.as_posix().strip('/').replace('/', '_')}.npz"
    files = photo_files(folder)
    if target.exists():
        stored = np.load(target)
        if list(stored["names"]) == [str(p) for p in files] and str(stored["model"]) == model.checksum:
            starts = np.cumsum([0, *stored["counts"]])
            return stored["maps"].astype(np.float32), [stored["boxes"][a:b] for a, b in zip(starts[:-1], starts[1:])]
    detector = PpOcrDetector()
    maps, boxes = [], []
    started = time.perf_counter()
    for i, path in enumerate(files):
        try:
            image = decode(path)  # upright and at most 2048 px, as the scan sees it
        except DecodeError as error:
            print(f"warning: skipped {path}: {error}", file=sys.stderr)
            continue
        height, width = image.shape[:2]
        plan = _window_cells(image.shape, crop_boxes(width, height), model.input_size)
        if plan is None or plan[0] != (2 * model.input_size, 2 * model.input_size):
            continue  # off the lattice: the scan would have no map for it either
        maps.append(model.trunk_maps([image], plan[0])[0].astype(np.float16))
        quads = detector.detect(image)
        boxes.append(np.array([[q[:, 0].min() / width, q[:, 1].min() / height, q[:, 0].max() / width, q[:, 1].max() / height] for q in quads], np.float32).reshape(-1, 4))
        if i % 200 == 0:
            print(f"  {folder}: {i} of {len(files)} photos, {time.perf_counter() - started:.0f} s", flush=True)
    if not maps:
        raise VisionGuardError(
            f"photo folder '{folder}' does not exist" if not Path(folder).is_dir()
            else f"no photos the scan can map (.jpg, .jpeg, .png) in {folder}"
        )
    cache.mkdir(parents=True, exist_ok=True)
    np.savez(target, maps=np.stack(maps), boxes=np.concatenate(boxes), counts=np.array([len(b) for b in boxes]), names=np.array([str(p) for p in files]), model=model.checksum)
    return np.stack(maps).astype(np.float32), boxes


def cell_labels(boxes: list[np.ndarray], rows: int, cols: int) -> np.ndarray:
    """1 for every cell a teacher box overlaps."""
    labels = np.zeros((len(boxes), rows, cols), np.float32)
    for i, photo_boxes in enumerate(boxes):
        for x0, y0, x1, y1 in photo_boxes:
            labels[i, max(0, int(y0 * rows)) : int(np.ceil(y1 * rows)), max(0, int(x0 * cols)) : int(np.ceil(x1 * cols))] = 1
    return labels


def coverage(weight: np.ndarray, bias: float, maps: np.ndarray, boxes: list[np.ndarray], threshold: float) -> dict:
    """Teacher boxes that lie inside one of the regions the scan would detect in
    (`visionguard.ocr._cell_regions`), and the share of the photos those regions cover."""
    from visionguard.ocr import _cell_regions

    covered = total = empty_with_text = 0
    area = 0.0
    for photo_maps, photo_boxes in zip(maps, boxes):
        selected = text_cell_logits(photo_maps, weight, bias) > np.log(threshold / (1 - threshold))
        rows, cols = selected.shape
        regions = [(x0 / cols, y0 / rows, x1 / cols, y1 / rows) for x0, y0, x1, y1 in _cell_regions(selected, cols, rows)]  # fractions
        area += sum((x1 - x0) * (y1 - y0) for x0, y0, x1, y1 in regions)
        empty_with_text += int(not selected.any() and len(photo_boxes) > 0)
        for x0, y0, x1, y1 in photo_boxes:
            total += 1
            covered += any(rx0 <= x0 and ry0 <= y0 and x1 <= rx1 and y1 <= ry1 for rx0, ry0, rx1, ry1 in regions)
    return {"threshold": threshold, "boxes_covered": covered, "boxes": total, "area": round(area / max(1, len(maps)), 3), "photos_with_text_gated_out": empty_with_text}


def fit(maps: np.ndarray, labels: np.ndarray, epochs: int, seed: int) -> tuple[np.ndarray, float]:
    """Logistic regression on each cell's channels and its neighbourhood's mean (positives
    weighted 4x: a missed word costs more than a few more pixels to look at)."""
    torch.manual_seed(seed)
    x = torch.from_numpy(maps)
    mean, std = x.mean((0, 2, 3), keepdim=True), x.std((0, 2, 3), keepdim=True) + 1e-3
    x = (x - mean) / std
    x = torch.cat([x, torch.nn.functional.avg_pool2d(x, 3, 1, 1, count_include_pad=False)], 1)
    y = torch.from_numpy(labels)
    probe = torch.nn.Conv2d(x.shape[1], 1, 1)
    optimiser = torch.optim.AdamW(probe.parameters(), 1e-2, weight_decay=1e-4)
    for _ in range(epochs):
        order = torch.randperm(len(x))
        for start in range(0, len(x), 128):
            batch = order[start : start + 128]
            loss = torch.nn.functional.binary_cross_entropy_with_logits(probe(x[batch])[:, 0], y[batch], pos_weight=torch.tensor(4.0))
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    # fold the normalisation in: the scan applies the weights to the raw trunk cells
    channels = maps.shape[1]
    w = probe.weight.detach()[0, :, 0, 0].reshape(2, channels) / std.reshape(1, channels)
    bias = float(probe.bias.detach()[0] - (w * mean.reshape(1, channels)).sum())
    return w.numpy().astype(np.float32), bias


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=Path, nargs="+", required=True, help="folders of training photos")
    parser.add_argument("--eval", type=Path, nargs="*", default=[], help="folders to measure coverage on (not trained on)")
    parser.add_argument("--model", type=Path, default=packaged_weights("visionguard-lite0-v2"))
    parser.add_argument("--cache", type=Path, default=Path("build/text_cells/cache"))
    parser.add_argument("--threshold", type=float, default=0.05, help="probability above which a cell is looked at")
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)  # as a scan worker runs the trunk
    model = TrainedLite0(args.model)
    started = time.perf_counter()
    parts = [extract(model, folder, args.cache) for folder in args.photos]
    maps = np.concatenate([m for m, _ in parts])
    boxes = [b for _, photo_boxes in parts for b in photo_boxes]
    labels = cell_labels(boxes, maps.shape[2], maps.shape[3])
    print(f"{len(maps)} training photos, {sum(map(len, boxes))} teacher boxes, {labels.mean():.3f} of cells with text")
    weight, bias = fit(maps, labels, args.epochs, args.seed)
    measured = {}
    for folder in args.eval:
        eval_maps, eval_boxes = extract(model, folder, args.cache)
        measured[str(folder)] = [coverage(weight, bias, eval_maps, eval_boxes, t) for t in REPORTED_THRESHOLDS]
        for row in measured[str(folder)]:
            print(f"  {folder}: {json.dumps(row)}")
    from safetensors.numpy import save_file

    target = args.model.with_name(args.model.stem + TEXT_CELLS_SUFFIX)
    save_file({"weight": weight, "bias": np.array([bias], np.float32), "threshold": np.array([args.threshold], np.float32)}, str(target))
    card_path = args.model.with_suffix(".json")
    card = json.loads(card_path.read_text(encoding="utf-8"))
    card["text_cells"] = {
        "file": target.name,
        "sha256": file_sha256(target),
        "threshold": args.threshold,
        "recipe": "training.text_cells: logistic regression on the logo trunk's cells (own channels + 3x3 mean), "
        f"taught by PP-OCRv4's full-size boxes; positives weighted 4x; AdamW lr 1e-2, {args.epochs} epochs, seed {args.seed}",
        "training_photos": {str(folder): len(part[0]) for folder, part in zip(args.photos, parts)},
        "measured": measured,
        "minutes": round((time.perf_counter() - started) / 60, 1),
    }
    card_path.write_text(json.dumps(card, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {target} and its entry in {card_path}")


if __name__ == "__main__":
    raise SystemExit(run(main))
