r"""Train the logo branch end to end, trunk included, on views generated afresh every epoch.

    python -m training.finetune --simple-icons build/training/simple-icons \
        --photos build/training/photos --out build/training/run-ft --device cuda

`training.train` is the recipe a 2-core CPU affords: the ImageNet trunk frozen, each view
generated once and its trunk features cached. Its held-out Recall@1 plateaued at ~0.2: the
frozen trunk, seeing seven views per brand, is the limit. This recipe instead
- gives the logo branch its own trunk (stem + blocks 0-10) and trains it with the tail, the
  head and the ProxyAnchor proxies (the product branch keeps the ImageNet trunk, so its head
  is copied from `--product-from`, by default the shipped visionguard-lite0-v1);
- draws new listing-like views every epoch in DataLoader worker processes (the same
  generator, `training.data`, and the same brand split as `training.train`);
- warms the head and the proxies up on a frozen backbone first (random proxies wreck a
  pretrained backbone), then trains everything under a cosine schedule.
It is meant for a GPU (bf16 autocast); on a CPU it runs, slowly (see training/README.md), in bf16
autocast too where the CPU computes bfloat16 natively (`--precision`).
The model is saved after every epoch, so a run stopped early (or cut short) leaves a usable file;
`--minutes M` fits the training to a time budget (re-planned after every epoch).
Output as `training.train`: `<name>.safetensors` + `<name>.json` (card without thresholds;
`training.calibrate` adds them).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from training import check_arguments, data, run
from training.losses import ProxyAnchorLoss
from training.train import MEAN, STD, _seed, log, save
from visionguard.models.lite0_metric import Lite0Metric, packaged_weights


class LogoViews(Dataset):
    """Item `epoch * per_epoch + j`: view j of that epoch, generated from its own seed.

    Per epoch and brand: one gallery-style view and `views_per_brand` listing crops; then
    `backgrounds` logo-free crops (label -1). Seeds depend on (seed, epoch, j) only, so the
    set does not depend on the number of workers."""

    def __init__(self, logos: list[list[data.Logo]], photos: list[np.ndarray], views_per_brand: int,
                 backgrounds: int, size: int, seed: int) -> None:
        self.logos, self.photos, self.size, self.seed = logos, photos, size, seed
        self.per_brand = views_per_brand + 1
        self.per_epoch = len(logos) * self.per_brand + backgrounds

    def __len__(self) -> int:
        return self.per_epoch * 10_000  # indices are (epoch, j); the sampler picks the epochs

    def __getitem__(self, index: int) -> tuple[np.ndarray, int]:
        epoch, j = divmod(index, self.per_epoch)
        rng = np.random.default_rng(_seed(self.seed, 10, epoch, j))
        if j >= len(self.logos) * self.per_brand:
            return data.background_view(self.photos, rng, self.size), -1
        label, view = divmod(j, self.per_brand)
        logos = self.logos[label]
        logo = logos[int(rng.integers(len(logos)))]
        if view == 0:
            return data.gallery_view(logo, data.GALLERY_STYLES[int(rng.integers(3))], self.size), label
        return data.logo_view(logo, self.photos, rng, self.size), label


class EpochSampler(Sampler):
    """Epochs `first..last`, each a seeded permutation of its own item indices."""

    def __init__(self, per_epoch: int, first: int, last: int, seed: int) -> None:
        self.per_epoch, self.first, self.last, self.seed = per_epoch, first, last, seed

    def __len__(self) -> int:
        return (self.last - self.first + 1) * self.per_epoch

    def __iter__(self):
        for epoch in range(self.first, self.last + 1):
            order = torch.randperm(self.per_epoch, generator=torch.Generator().manual_seed(_seed(self.seed, 11, epoch)))
            yield from (epoch * self.per_epoch + order).tolist()


def to_batch(views: torch.Tensor, device: str) -> torch.Tensor:
    """uint8 NHWC from the loader -> normalised float NCHW (channels_last) on `device`."""
    x = views.to(device, non_blocking=True).permute(0, 3, 1, 2).float().div_(255)
    return ((x - MEAN) / STD).contiguous(memory_format=torch.channels_last)


def monitor_views(logos_by_brand, brands, photos, size, seed, queries_per_brand=3):
    """Held-out brands: gallery views (3 styles) as references, listing crops as queries."""
    rng = np.random.default_rng(seed)
    refs, ref_labels, queries, query_labels = [], [], [], []
    for label, brand in enumerate(brands):
        for style in data.GALLERY_STYLES:
            refs.append(data.gallery_view(logos_by_brand[brand][0], style, size))
            ref_labels.append(label)
        for _ in range(queries_per_brand):
            logos = logos_by_brand[brand]
            queries.append(data.logo_view(logos[int(rng.integers(len(logos)))], photos, rng, size))
            query_labels.append(label)
    return (torch.from_numpy(np.stack(refs)), torch.tensor(ref_labels),
            torch.from_numpy(np.stack(queries)), torch.tensor(query_labels))


@torch.inference_mode()
def held_out_recall(model: Lite0Metric, monitor, device: str) -> float:
    refs, ref_labels, queries, query_labels = monitor
    model.eval()

    def embed(views: torch.Tensor) -> torch.Tensor:
        return torch.cat([model.logo_image(to_batch(views[i : i + 256], device)).float().cpu()
                          for i in range(0, len(views), 256)])

    nearest = (embed(queries) @ embed(refs).T).argmax(dim=1)
    return float((ref_labels[nearest] == query_labels).float().mean())


def backbone(model: Lite0Metric) -> list[torch.nn.Parameter]:
    return [*model.logo_trunk.parameters(), *model.logo_tail.parameters()]


def set_learning_rates(optimiser: torch.optim.Optimizer, peaks: list[float], warm: bool, progress: float,
                       ramp_until: float) -> None:
    """Warm-up: backbone still, head and proxies at their peaks. Then cosine decay of all three
    from their peaks, the backbone's after a linear ramp up to progress `ramp_until`."""
    for index, (group, peak) in enumerate(zip(optimiser.param_groups, peaks)):
        if warm:
            group["lr"] = 0.0 if index == 0 else peak
            continue
        ramp = min(1.0, progress / ramp_until) if index == 0 else 1.0
        group["lr"] = peak * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))) * ramp


def set_train_mode(model: Lite0Metric, warm: bool) -> None:
    """Only the logo branch trains; during the warm-up its BatchNorm statistics stay ImageNet's."""
    model.train()
    model.trunk.eval()
    model.product_tail.eval()
    if warm:
        model.logo_trunk.eval()
        model.logo_tail.eval()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--simple-icons", type=Path, help="unpacked npm simple-icons package")
    parser.add_argument("--masks", type=Path, help="rendered glyph masks (PNG) from an earlier run; default OUT/masks")
    parser.add_argument("--image-folder", type=Path, help="your own brand imagery, <brand>/*.jpg|png")
    parser.add_argument("--icons", type=Path,
                        help="unpacked npm @fortawesome/fontawesome-free: its solid and regular icons as extra training "
                             "classes (never held out)")
    parser.add_argument("--fonts", type=Path, help="a folder of .ttf/.otf fonts for --wordmarks")
    parser.add_argument("--wordmarks", type=int, default=0,
                        help="this many made-up words, each drawn in one of --fonts, as extra training classes")
    parser.add_argument("--init-from", type=Path,
                        help="start the logo branch from this model's safetensors (e.g. the shipped v2) instead of "
                             "ImageNet; the proxies start at each class's gallery-view embedding, so no warm-up is needed")
    parser.add_argument("--photos", type=Path, help="background photographs (scikit-image samples are always added)")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--name", default="my-logo-model", help="the model's name, written into its card and every index built with it (the shipped models rebuild under their own names)")
    parser.add_argument("--product-from", type=Path, default=None,
                        help="safetensors whose product head is kept (default: the shipped visionguard-lite0-v1)")
    parser.add_argument("--views-per-brand", type=int, default=6, help="listing crops per brand and epoch")
    parser.add_argument("--held-out", type=float, default=0.2)
    parser.add_argument("--max-brands", type=int, default=0, help="use at most this many training brands (0: all)")
    parser.add_argument("--warmup-epochs", type=int, default=1, help="head and proxies only, backbone frozen")
    parser.add_argument("--epochs", type=int, default=22, help="everything trained (after the warm-up)")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--lr", type=float, default=2e-4, help="peak learning rate of the backbone")
    parser.add_argument("--head-lr", type=float, default=2e-3)
    parser.add_argument("--proxy-lr", type=float, default=2e-2)
    parser.add_argument("--size", type=int, default=160, help="model input size")
    parser.add_argument("--workers", type=int, default=max(1, (os.cpu_count() or 2) - 2))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--precision", choices=("auto", "f32", "bf16"), default="auto",
                        help="autocast of the forward pass: auto (the default) is bf16 on a GPU and on a CPU that "
                             "computes bfloat16 natively (AVX512-BF16 or AMX; on this 2-core CPU a step 1.28x and an "
                             "epoch 1.11-1.15x faster, view generation being the rest), else f32")
    parser.add_argument("--minutes", type=float, default=0,
                        help="fit the training to this budget (0: --epochs): after every epoch, the number of steps "
                             "left is what the rest of the budget holds at the last epoch's speed; the run may end "
                             "inside an epoch")
    args = parser.parse_args(argv)
    check_arguments(parser, args)
    if args.wordmarks and not args.fonts:
        parser.error("--wordmarks needs --fonts")
    if args.icons and not (args.icons / "svgs" / "solid").is_dir():
        parser.error(f"--icons {args.icons}: no svgs/solid/ there; unpack npm @fortawesome/fontawesome-free into it "
                     "(training/fetch_data.sh does)")
    if args.fonts and not _font_files(args.fonts):
        parser.error(f"--fonts {args.fonts}: no .ttf or .otf files there (benchmarks/fetch_fonts.sh fetches some)")
    if args.precision == "bf16" and not _autocast_bf16("bf16", args.device):
        parser.error("--precision bf16 needs a GPU or a CPU that computes bfloat16 natively (AVX512-BF16 or AMX)")
    args.precision = "bf16" if _autocast_bf16(args.precision, args.device) else "f32"  # "auto" resolved, for the card
    if args.init_from and not args.init_from.is_file():
        parser.error(f"--init-from {args.init_from}: no such file")
    if args.warmup_epochs < 1 and not args.init_from:
        parser.error("random proxies on an unfrozen backbone wreck it: give --warmup-epochs 1 or more, or --init-from")
    started = time.time()
    torch.manual_seed(args.seed)
    device = args.device
    if args.workers:  # the loader workers use the cores; set before OpenCV's pool starts (a forked
        import cv2    # child that resizes its parent's pool hangs)

        cv2.setNumThreads(1)

    logos_by_brand = data.load_brands(args.simple_icons, args.image_folder, args.masks or args.out / "masks")
    train_brands, held_brands = data.split_brands(list(logos_by_brand), args.held_out)
    if args.max_brands:
        train_brands, held_brands = train_brands[: args.max_brands], held_brands[: args.max_brands]
    extras = _extra_classes(args)
    for logo in extras:
        logos_by_brand.setdefault(logo.brand, []).append(logo)
    train_brands += list(dict.fromkeys(logo.brand for logo in extras))
    photos = data.load_photos(args.photos)
    train_photos, _ = data.split_photos(photos)
    if len(train_brands) < 2:
        print("error: need at least two training brands", file=sys.stderr)
        return 2
    extra_classes = len({logo.brand for logo in extras})
    log(f"{len(train_brands)} training classes ({len(train_brands) - extra_classes} brands, {extra_classes} extra), "
        f"{len(held_brands)} brands held out; {len(train_photos)} training photos; device {device}, "
        f"{args.workers} loader workers")

    model = Lite0Metric(logo_trunk=True)
    product_from = args.product_from or packaged_weights("visionguard-lite0-v1")
    from safetensors.torch import load_file

    if args.init_from:
        model.load_state_dict({k: v.float() for k, v in load_file(str(args.init_from)).items()
                               if k.startswith(("logo_", "product_head."))}, strict=False)
    model.load_state_dict({k: v.float() for k, v in load_file(str(product_from)).items() if k.startswith("product_head.")},
                          strict=False)
    model.to(device).to(memory_format=torch.channels_last)
    loss_fn = ProxyAnchorLoss(len(train_brands), model.logo_head.out_features).to(device)
    if args.init_from:
        loss_fn.proxies.data.copy_(gallery_embeddings(model, [logos_by_brand[b] for b in train_brands], args.size, device))
    if not held_brands:
        log(f"no brand is held out (a fraction --held-out {args.held_out} of {len(logos_by_brand)}, by a hash of the name): "
            "the 'held-out R@1' below is measured on training brands, and training.evaluate needs held-out brands")
    monitor = monitor_views(logos_by_brand, held_brands[:300] or train_brands[:50], train_photos, args.size, args.seed + 1)
    views = LogoViews([logos_by_brand[b] for b in train_brands], train_photos, args.views_per_brand,
                      backgrounds=len(train_brands) // 2 + 1, size=args.size, seed=args.seed)
    last_epoch = args.warmup_epochs + (10_000 if args.minutes else args.epochs)  # the loop stops at the planned step
    if views.per_epoch < args.batch_size:  # a small ImageFolder: one step an epoch, not none
        log(f"--batch-size {args.batch_size} is more than an epoch's {views.per_epoch} views: using {views.per_epoch}")
        args.batch_size = views.per_epoch
    loader = DataLoader(views, batch_size=args.batch_size, sampler=EpochSampler(views.per_epoch, 1, last_epoch, args.seed),
                        num_workers=args.workers, drop_last=True, pin_memory=device != "cpu",
                        prefetch_factor=4 if args.workers else None)
    steps_per_epoch = views.per_epoch // args.batch_size  # >= 1: the batch is at most an epoch (above)
    optimiser = torch.optim.AdamW([
        {"params": backbone(model), "lr": 0.0},
        {"params": model.logo_head.parameters(), "lr": args.head_lr},
        {"params": loss_fn.parameters(), "lr": args.proxy_lr},
    ], weight_decay=1e-4)
    peaks = [args.lr, args.head_lr, args.proxy_lr]
    autocast = torch.autocast(device.split(":")[0], dtype=torch.bfloat16, enabled=args.precision == "bf16")

    history = [{"epoch": 0, "held_out_recall_at_1": held_out_recall(model, monitor, device)}]
    start = args.init_from.name if args.init_from else "ImageNet backbone + random head"
    log(f"{start}: held-out R@1 {history[0]['held_out_recall_at_1']:.3f}")
    warm_steps, train_steps = args.warmup_epochs * steps_per_epoch, args.epochs * steps_per_epoch
    step, epoch, epoch_started, total, done = 0, 1, time.time(), 0.0, 0
    for batch, labels in loader:
        warm = epoch <= args.warmup_epochs
        progress = max(0.0, (step - warm_steps) / max(1, train_steps))
        set_learning_rates(optimiser, peaks, warm, progress, ramp_until=0.5 * steps_per_epoch / max(1, train_steps))
        set_train_mode(model, warm)
        with autocast:
            embeddings = model.logo_image(to_batch(batch, device))
        loss = loss_fn(embeddings.float(), labels.to(device))
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        total += float(loss.detach())
        step, done = step + 1, done + 1
        last = not warm and step >= warm_steps + train_steps
        if step % steps_per_epoch == 0 or last:
            recall = held_out_recall(model, monitor, device)
            seconds = time.time() - epoch_started
            history.append({"epoch": round(step / steps_per_epoch, 2), "warm_up": warm, "loss": round(total / done, 4),
                            "held_out_recall_at_1": recall, "seconds": round(seconds, 1)})
            log(f"epoch {step / steps_per_epoch:.2f}{' (warm-up)' if warm else ''}: loss {total / done:.3f} held-out "
                f"R@1 {recall:.3f} ({seconds:.0f}s, {done * args.batch_size / seconds:.0f} views/s)")
            minutes = (time.time() - started) / 60
            spent = False
            if args.minutes and not last:  # re-plan: the rest of the budget at this epoch's speed
                left = int((args.minutes - minutes) * 60 / (seconds / done))
                spent = left <= 0
                if spent:
                    log(f"--minutes {args.minutes}: the budget is spent ({minutes:.1f} minutes); stopping here")
                else:
                    train_steps = step + left - warm_steps
                    log(f"--minutes {args.minutes}: {left} more steps ({left / steps_per_epoch:.2f} epochs)")
            save(model.cpu(), args.out, args.name,
                 card(args, train_brands, held_brands, views, history, minutes, step / steps_per_epoch, product_from, extras))
            model.to(device)
            if last or spent:
                break
            epoch, epoch_started, total, done = epoch + 1, time.time(), 0.0, 0
    log(f"saved {args.out / (args.name + '.safetensors')} after {(time.time() - started) / 60:.1f} min")
    return 0


def _autocast_bf16(precision: str, device: str) -> bool:
    """Whether the forward pass runs in bfloat16 autocast: asked for, or "auto" where the device
    computes it natively (on a CPU that emulates it, bf16 would be slower than float32)."""
    if precision == "f32":
        return False
    if device.startswith("cuda"):
        return True
    from visionguard.models.runtime import cpu_has_bf16

    return cpu_has_bf16()


def _extra_classes(args) -> list[data.Logo]:
    """Training classes that are no brand: Font Awesome icons and made-up wordmarks."""
    extras = data.load_icons(args.icons, cache=(args.masks or args.out / "masks") / "fontawesome") if args.icons else []
    if args.wordmarks:
        extras += data.make_wordmarks(_font_files(args.fonts), args.wordmarks, seed=args.seed)
    return extras


def _font_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in (".ttf", ".otf"))


@torch.inference_mode()
def gallery_embeddings(model: Lite0Metric, logos: list[list[data.Logo]], size: int, device: str) -> torch.Tensor:
    """Each class's black-on-white gallery view embedded: where its proxy starts when the model
    already knows logos (--init-from)."""
    model.eval()
    views = torch.from_numpy(np.stack([data.gallery_view(group[0], "black", size) for group in logos]))
    return torch.cat([model.logo_image(to_batch(views[i : i + 256], device)).float()
                      for i in range(0, len(views), 256)])


def card(args, train_brands, held_brands, views: LogoViews, history, minutes, epochs_done, product_from,
         extras: list[data.Logo]) -> dict:
    return {
        "architecture": "EfficientNet-Lite0: logo trunk (blocks 0-10) + logo tail (blocks 11-15, head conv) fine-tuned "
                        "end to end + GeM + linear; product: ImageNet trunk + tail (frozen) + GeM + linear",
        "logo_trunk": True,
        "input_size": args.size,
        "logo_dim": 128,
        "product_dim": 256,
        "normalisation": "(pixel / 255 - 0.5) / 0.5, RGB",
        "training": {
            "recipe": "training.finetune",
            "logo_loss": f"ProxyAnchor (margin 0.1, alpha 32), background crops as negatives only; warm-up "
                         f"{args.warmup_epochs} epoch(s) head + proxies on a frozen backbone, then backbone (peak lr "
                         f"{args.lr}), head {args.head_lr}, proxies {args.proxy_lr}; AdamW (wd 1e-4), cosine; "
                         f"BatchNorm in training mode; {'bf16 autocast' if args.precision == 'bf16' else 'float32'}",
            "product_head": f"copied from {Path(product_from).name} (SupCon, training.train)",
            "brands": len(train_brands) - len({logo.brand for logo in extras}), "held_out_brands": len(held_brands),
            "extra_classes": {"fontawesome_icons": len({l.brand for l in extras if l.brand.startswith("fa-")}),
                              "wordmarks": len({l.brand for l in extras if l.brand.startswith("wm-")})},
            "init_from": args.init_from.name if args.init_from else "ImageNet",
            "views_per_epoch": views.per_epoch, "views_per_brand_per_epoch": views.per_brand,
            "epochs_done": round(epochs_done, 2),
            "batch_size": args.batch_size, "seed": args.seed, "minutes": round(minutes, 1), "minutes_budget": args.minutes,
            "device": args.device, "precision": args.precision,
            "device_name": torch.cuda.get_device_name() if args.device.startswith("cuda") else "cpu",
            "data": ("simple-icons 16.37.0 glyphs (CC0)" if args.simple_icons else "user image folder")
                    + (", Font Awesome Free solid + regular icons (CC-BY-4.0)" if args.icons else "")
                    + (f", {args.wordmarks} made-up wordmarks in the fonts of {args.fonts}" if args.wordmarks else "")
                    + f", composed on the photos of {args.photos.name if args.photos else '(none)'} + scikit-image samples",
            "augmentations": "new views every epoch; styles (brand colour, black, white, random, tone-on-tone, plate, "
                             "sticker), scale 20-90% of the crop window, rotation ~N(0, 8 deg), perspective 12%, "
                             "occlusion, shadow, lighting gradient, gamma, blur, noise, JPEG 30-95, aspect squash",
            "history": history,
        },
        "held_out_brands_list": held_brands,
    }


if __name__ == "__main__":
    raise SystemExit(run(main))
