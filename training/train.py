r"""Train the VisionGuard logo + product model on a CPU (a GPU is used when asked for).

    python -m training.train --simple-icons build/training/simple-icons \
        --photos build/training/photos --out build/training/run

Recipe (see training/README.md): brands are split by a stable hash into training and
held-out brands; listing-like views of the training brands are generated once and passed
through the frozen ImageNet trunk, whose features are cached (float16); the logo tail and
head are then trained on the cache with ProxyAnchor (head alone, then the tail too), and the product head
is trained with SupCon on copy edits of training photos. Held-out brands are only used to
report Recall@1 after each epoch. Output: `<name>.safetensors` (trained tensors, float16) and
`<name>.json` (the model card without thresholds; `training.calibrate` adds them).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from training import check_arguments, data, run
from training.losses import ProxyAnchorLoss, supcon_loss
from visionguard.models.base import file_sha256
from visionguard.models.lite0_metric import Lite0Metric

MEAN = STD = 0.5
_WORKER: dict = {}  # generation state inherited by forked workers


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def to_tensor(views: list[np.ndarray]) -> torch.Tensor:
    batch = np.stack(views).astype(np.float32) / 255.0
    return torch.from_numpy((batch - MEAN) / STD).permute(0, 3, 1, 2).contiguous()


@torch.inference_mode()
def trunk_features(model: Lite0Metric, views: list[np.ndarray], batch_size: int = 64) -> torch.Tensor:
    chunks = [model.trunk(to_tensor(views[i : i + batch_size])).half() for i in range(0, len(views), batch_size)]
    return torch.cat(chunks)


# -- generation, in worker processes --------------------------------------------------


def _seed(*parts: int) -> int:
    """A per-view seed that does not depend on the order or number of workers."""
    return int(np.random.SeedSequence(list(parts)).generate_state(1)[0])


def _logo_job(job: tuple[int, int, str]) -> list[np.ndarray]:
    """(seed, brand index, kind) -> views; kind is 'logo', 'gallery' or 'background'."""
    seed, brand_index, kind = job
    rng = np.random.default_rng(seed)
    photos, size = _WORKER["photos"], _WORKER["size"]
    if kind == "background":
        return [data.background_view(photos, rng, size)]
    logos = _WORKER["logos"][brand_index]
    logo = logos[int(rng.integers(len(logos)))]
    if kind == "gallery":
        return [data.gallery_view(logo, data.GALLERY_STYLES[int(rng.integers(3))], size)]
    return [data.logo_view(logo, photos, rng, size)]


def _product_job(job: tuple[int, int]) -> list[np.ndarray]:
    """(seed, copies) -> an original product photo and `copies` copy edits, at model size."""
    seed, copies = job
    rng = np.random.default_rng(seed)
    photos, size = _WORKER["photos"], _WORKER["size"]
    logos = _WORKER["product_logos"]
    logo = logos[int(rng.integers(len(logos)))] if rng.random() < 0.5 else None
    original = data.listing_photo(logo, photos, rng, size=(640, 480), scale=(0.15, 0.5))
    views = [original] + [data.copy_edit(original, rng) for _ in range(copies)]
    return [data._square(v, size) for v in views]


def generate(jobs: list, function, state: dict, workers: int) -> list[np.ndarray]:
    _WORKER.clear()
    _WORKER.update(state)
    if workers <= 1:
        return [view for job in jobs for view in function(job)]
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        return [view for views in pool.imap(function, jobs, chunksize=64) for view in views]


def cached_logo_set(model, logos_by_brand, brands, photos, views_per_brand, backgrounds, size, seed, workers):
    """Trunk features and labels for `views_per_brand` logo views + 1 gallery view per brand."""
    jobs, labels = [], []
    for label, brand in enumerate(brands):
        for view in range(views_per_brand + 1):
            jobs.append((_seed(seed, 0, label, view), label, "gallery" if view == 0 else "logo"))
            labels.append(label)
    for view in range(backgrounds):
        jobs.append((_seed(seed, 1, view), -1, "background"))
        labels.append(-1)
    state = {"logos": [logos_by_brand[b] for b in brands], "photos": photos, "size": size}
    features = []
    for start in range(0, len(jobs), 2048):
        views = generate(jobs[start : start + 2048], _logo_job, state, workers)
        features.append(trunk_features(model, views))
        log(f"  cached {min(start + 2048, len(jobs))}/{len(jobs)} views")
    return torch.cat(features), torch.tensor(labels)


def monitor_set(model, logos_by_brand, brands, photos, size, seed, queries_per_brand=3):
    """Held-out brands: gallery views (3 styles) as references, logo views as queries."""
    rng = np.random.default_rng(seed)
    refs, ref_labels, queries, query_labels = [], [], [], []
    for label, brand in enumerate(brands):
        logo = logos_by_brand[brand][0]
        for style in data.GALLERY_STYLES:
            refs.append(data.gallery_view(logo, style, size))
            ref_labels.append(label)
        for _ in range(queries_per_brand):
            queries.append(data.logo_view(logos_by_brand[brand][int(rng.integers(len(logos_by_brand[brand])))], photos, rng, size))
            query_labels.append(label)
    return (trunk_features(model, refs), torch.tensor(ref_labels), trunk_features(model, queries), torch.tensor(query_labels))


@torch.inference_mode()
def recall_at_1(model: Lite0Metric, monitor) -> float:
    refs, ref_labels, queries, query_labels = monitor
    model.eval()
    r = torch.cat([model.logo(refs[i : i + 256].float()) for i in range(0, len(refs), 256)])
    q = torch.cat([model.logo(queries[i : i + 256].float()) for i in range(0, len(queries), 256)])
    nearest = (q @ r.T).argmax(dim=1)
    return float((ref_labels[nearest] == query_labels).float().mean())


def set_train_mode(model: Lite0Metric) -> None:
    """Train the logo tail with frozen BatchNorm statistics (small CPU batches)."""
    model.eval()
    model.logo_tail.train()
    for module in model.logo_tail.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.eval()


@torch.inference_mode()
def pooled_features(model: Lite0Metric, features: torch.Tensor) -> torch.Tensor:
    """The logo tail's pooled 1280-d output for every cached view (the tail is still ImageNet)."""
    model.eval()
    return torch.cat([model.logo_tail(features[i : i + 256].float()) for i in range(0, len(features), 256)])


def _proxy_anchor_epochs(parameters, loss_fn, embed, inputs, labels, epochs, batch_size, generator, on_epoch):
    """Shared loop of both stages; `parameters` are (params, peak lr) pairs under one OneCycle."""
    optimiser = torch.optim.AdamW([{"params": p, "lr": lr} for p, lr in parameters], weight_decay=1e-4)
    batch_size = min(batch_size, len(labels))  # a small ImageFolder: one step an epoch, not none
    steps = len(labels) // batch_size
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimiser, max_lr=[lr for _, lr in parameters], total_steps=max(1, epochs * steps), pct_start=0.05
    )
    for epoch in range(1, epochs + 1):
        order = torch.randperm(len(labels), generator=generator)
        started, total = time.time(), 0.0
        for step in range(steps):
            rows = order[step * batch_size : (step + 1) * batch_size]
            loss = loss_fn(embed(inputs[rows]), labels[rows])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
            total += float(loss.detach())
        on_epoch(epoch, total / max(1, steps), time.time() - started)


def train_logo(model, features, labels, n_classes, monitor, head_epochs, epochs, batch_size, lr, seed):
    """ProxyAnchor in two stages. 1: the head and the proxies alone, on the pooled ImageNet
    features (seconds per epoch); fine-tuning the tail from random proxies wrecked it (held-out
    R@1 fell from 0.07 to 0.01). 2: the tail too, at a small learning rate, from stage 1."""
    loss_fn = ProxyAnchorLoss(n_classes, model.logo_head.out_features)
    generator = torch.Generator().manual_seed(seed)
    history = [{"stage": 0, "epoch": 0, "held_out_recall_at_1": recall_at_1(model, monitor)}]
    log(f"logo: ImageNet tail + random head, held-out R@1 {history[-1]['held_out_recall_at_1']:.3f}")

    def report(stage: int):
        def on_epoch(epoch: int, loss: float, seconds: float) -> None:
            history.append({"stage": stage, "epoch": epoch, "loss": round(loss, 4),
                            "held_out_recall_at_1": recall_at_1(model, monitor)})
            log(f"logo stage {stage}: epoch {epoch} loss {loss:.3f} held-out R@1 "
                f"{history[-1]['held_out_recall_at_1']:.3f} ({seconds:.0f}s)")
            set_train_mode(model)
        return on_epoch

    pooled = pooled_features(model, features).clone()  # a normal tensor: autograd may save it
    set_train_mode(model)
    _proxy_anchor_epochs([(model.logo_head.parameters(), 1e-3), (loss_fn.parameters(), 1e-1)], loss_fn,
                         lambda x: F.normalize(model.logo_head(x), dim=1), pooled, labels, head_epochs, 256,
                         generator, report(1))
    del pooled
    _proxy_anchor_epochs([(model.logo_tail.parameters(), lr), (model.logo_head.parameters(), 1e-4),
                          (loss_fn.parameters(), 1e-2)], loss_fn, lambda x: model.logo(x.float()), features, labels,
                         epochs, batch_size, generator, report(2))
    return history


def cached_product_set(model, photos, logos, instances, copies, size, seed, workers):
    """Frozen ImageNet tail vectors (1280-d GeM) of product photos and their copy edits."""
    jobs = [(_seed(seed, 2, i), copies) for i in range(instances)]
    state = {"photos": photos, "size": size, "product_logos": logos}
    vectors, labels = [], []
    for start in range(0, len(jobs), 512):
        views = generate(jobs[start : start + 512], _product_job, state, workers)
        with torch.inference_mode():
            features = trunk_features(model, views)
            vectors.append(torch.cat([model.product_tail(features[i : i + 128].float()) for i in range(0, len(features), 128)]))
        labels += [start + i // (copies + 1) for i in range(len(views))]
    return torch.cat(vectors), torch.tensor(labels)


def train_product(model, vectors, labels, epochs, lr, seed, instances_per_batch=128):
    """SupCon on cached vectors: batches of whole instances (an original and its copies)."""
    optimiser = torch.optim.AdamW(model.product_head.parameters(), lr=lr, weight_decay=1e-4)
    generator = torch.Generator().manual_seed(seed)
    by_instance = defaultdict(list)
    for row, label in enumerate(labels.tolist()):
        by_instance[label].append(row)
    instances = list(by_instance)
    for epoch in range(1, epochs + 1):
        order = torch.randperm(len(instances), generator=generator).tolist()
        total, count = 0.0, 0
        for start in range(0, len(order), instances_per_batch):
            rows = [r for i in order[start : start + instances_per_batch] for r in by_instance[instances[i]]]
            embeddings = F.normalize(model.product_head(vectors[rows]), dim=1)
            loss = supcon_loss(embeddings, labels[rows])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            total, count = total + float(loss.detach()), count + 1
        if epoch == 1 or epoch == epochs or epoch % 10 == 0:
            log(f"product: epoch {epoch} loss {total / count:.3f}")


def save(model: Lite0Metric, out: Path, name: str, card: dict) -> Path:
    from safetensors.torch import save_file

    out.mkdir(parents=True, exist_ok=True)
    weights = out / f"{name}.safetensors"
    state = {k: v.detach().half().contiguous() for k, v in model.trained_state().items()}
    save_file(state, str(weights), metadata={"name": name})
    card = dict(card, name=name, sha256=file_sha256(weights), imagenet_sha256=model.imagenet_sha256)
    (out / f"{name}.json").write_text(json.dumps(card, indent=1) + "\n", encoding="utf-8")
    return weights


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--simple-icons", type=Path, help="unpacked npm simple-icons package")
    parser.add_argument("--image-folder", type=Path, help="your own brand imagery, <brand>/*.jpg|png")
    parser.add_argument("--photos", type=Path, help="background photographs (scikit-image samples are always added)")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--name", default="my-logo-model-v1", help="the model's name, written into its card and every index built with it (the shipped models rebuild under their own names)")
    parser.add_argument("--views-per-brand", type=int, default=6)
    parser.add_argument("--max-brands", type=int, default=0, help="use at most this many training brands (0: all)")
    parser.add_argument("--held-out", type=float, default=0.2, help="fraction of brands held out")
    parser.add_argument("--head-epochs", type=int, default=8, help="stage 1: head and proxies only")
    parser.add_argument("--epochs", type=int, default=3, help="stage 2: logo tail fine-tuned too")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=3e-5, help="peak learning rate of the logo tail")
    parser.add_argument("--product-instances", type=int, default=1200)
    parser.add_argument("--product-epochs", type=int, default=40)
    parser.add_argument("--size", type=int, default=128, help="model input size")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep-cache", action="store_true", help="save the trunk-feature cache for the next run")
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda; the GPU is never required")
    args = parser.parse_args(argv)
    check_arguments(parser, args)
    started = time.time()
    torch.manual_seed(args.seed)

    logos_by_brand = data.load_brands(args.simple_icons, args.image_folder, args.out / "masks")
    train_brands, held_brands = data.split_brands(list(logos_by_brand), args.held_out)
    if args.max_brands:
        train_brands = train_brands[: args.max_brands]
    photos = data.load_photos(args.photos)
    train_photos, _ = data.split_photos(photos)
    log(f"{len(logos_by_brand)} brands: {len(train_brands)} for training, {len(held_brands)} held out; "
        f"{len(train_photos)} training photos")
    if len(train_brands) < 2:
        print("error: need at least two training brands", file=sys.stderr)
        return 2

    model = Lite0Metric()
    cache = args.out / f"cache-{len(train_brands)}x{args.views_per_brand}-s{args.seed}-{args.size}.safetensors"
    cache_minutes = 0.0  # time spent building the cache, counted even when an earlier run built it
    if cache.exists():  # our own file from an earlier run with the same settings (safetensors: no pickle)
        from safetensors import safe_open
        from safetensors.torch import load_file

        tensors = load_file(str(cache))
        features, labels = tensors["features"], tensors["labels"]
        monitor = tuple(tensors[f"monitor{i}"] for i in range(4))
        with safe_open(str(cache), "pt") as handle:
            cache_minutes = float((handle.metadata() or {}).get("minutes", "nan"))
        log(f"reusing {cache} (built in {cache_minutes:.1f} min)")
    else:
        features, labels = cached_logo_set(
            model, logos_by_brand, train_brands, train_photos, args.views_per_brand,
            backgrounds=len(train_brands) // 2 + 1, size=args.size, seed=args.seed, workers=args.workers,
        )
        monitor = monitor_set(model, logos_by_brand, held_brands[:300] or train_brands[:50], train_photos, args.size, args.seed + 1)
        if args.keep_cache:
            from safetensors.torch import save_file

            save_file({"features": features, "labels": labels, **{f"monitor{i}": t for i, t in enumerate(monitor)}},
                      str(cache), metadata={"minutes": f"{(time.time() - started) / 60:.1f}"})
        cache_minutes = (time.time() - started) / 60
        started = time.time()
    log(f"logo cache: {len(labels)} views ({features.element_size() * features.nelement() / 1e6:.0f} MB); "
        f"{time.time() - started:.0f}s so far")
    if args.device != "cpu":
        model.to(args.device)
    history = train_logo(model, features.to(args.device), labels.to(args.device), len(train_brands), monitor,
                         args.head_epochs, args.epochs, args.batch_size, args.lr, args.seed)
    model.cpu()
    del features
    product_logos = [logos_by_brand[b][0] for b in train_brands[:200]]
    vectors, product_labels = cached_product_set(model, train_photos, product_logos, args.product_instances, 3,
                                                 args.size, args.seed + 2, args.workers)
    train_product(model, vectors, product_labels, args.product_epochs, 1e-3, args.seed)
    minutes = cache_minutes + (time.time() - started) / 60
    card = {
        "architecture": "EfficientNet-Lite0 trunk (blocks 0-10, ImageNet, frozen); logo tail fine-tuned + GeM + linear; "
                        "product: ImageNet tail + GeM + linear",
        "input_size": args.size,
        "logo_dim": model.logo_head.out_features,
        "product_dim": model.product_head.out_features,
        "normalisation": "(pixel / 255 - 0.5) / 0.5, RGB",
        "training": {
            "logo_loss": "ProxyAnchor (margin 0.1, alpha 32), background crops as negatives only; stage 1: "
                         "head + proxies on pooled ImageNet features (lr 1e-3, proxies 1e-1); stage 2: logo tail "
                         "(lr below), head 1e-4, proxies 1e-2; AdamW, OneCycle",
            "product_loss": "SupCon (temperature 0.05) on an original + 3 copy edits per instance",
            "brands": len(train_brands), "held_out_brands": len(held_brands), "views_per_brand": args.views_per_brand + 1,
            "head_epochs": args.head_epochs, "epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr, "seed": args.seed,
            "product_instances": args.product_instances, "product_epochs": args.product_epochs,
            "minutes": round(minutes, 1), "cache_minutes": round(cache_minutes, 1), "device": args.device, "torch_threads": torch.get_num_threads(),
            "data": ("simple-icons 16.37.0 glyphs (CC0)" if args.simple_icons else "user image folder")
                    + f", composed on the photos of {args.photos.name if args.photos else '(none)'} + scikit-image samples",
            "augmentations": "styles (brand colour, black, white, random, tone-on-tone, plate, sticker), "
                             "scale 20-90% of the crop window, rotation ~N(0, 8 deg), perspective 12%, occlusion, "
                             "shadow, lighting gradient, gamma, blur, noise, JPEG 30-95, aspect squash",
            "history": history,
        },
        "held_out_brands_list": held_brands,
    }
    weights = save(model, args.out, args.name, card)
    log(f"saved {weights} ({weights.stat().st_size / 1e6:.1f} MB) after {minutes:.1f} min")
    return 0


if __name__ == "__main__":
    raise SystemExit(run(main))
