"""Embed a listing photo as a whole and as overlapping crops.

A logo covering a fifth of a photo barely moves a whole-image embedding: the scene
dominates. Crops that roughly frame the logo let the gallery's logo images match. The
whole-image vector serves stolen-photo (near-duplicate) search.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from visionguard.models import EmbeddingModel

Box = tuple[int, int, int, int]

Grid = tuple[tuple[float, float], ...]

#: Crop windows as fractions of the image: (size, stride). 0.5/0.25 gives a 3x3 grid; a logo
#: of 20-60% of the photo width fills 40-100% of some window.
CROP_GRID: Grid = ((0.5, 0.25),)
#: Adds a 4x4 grid of 0.3-size windows for logos of 10-20% of the width (25 crops, not 9).
SMALL_LOGO_GRID: Grid = ((0.5, 0.25), (0.3, 0.7 / 3))


@dataclass
class ImageEmbedding:
    whole: np.ndarray  # (dim,) logo space
    crops: np.ndarray  # (n_crops, dim) logo space
    boxes: list[Box]
    product: np.ndarray  # (product_dim,) whole photo in the near-duplicate space
    #: (rows, cols) bools over the photo: cells where the model's text-cell probe sees possible
    #: text (the OCR gate, `--text-cells`); None when the model cannot tell.
    text_cells: np.ndarray | None = None


def box_intersection(a: Box, b: Box) -> int:
    """The area two boxes share (0 where they do not meet)."""
    width, height = min(a[2], b[2]) - max(a[0], b[0]), min(a[3], b[3]) - max(a[1], b[1])
    return max(0, width) * max(0, height)


def crop_boxes(width: int, height: int, grid: Grid = CROP_GRID) -> list[Box]:
    """Square-ish windows over the image, so a logo anywhere falls mostly inside one."""
    boxes: list[Box] = []
    for size, stride in grid:
        w, h = max(1, round(width * size)), max(1, round(height * size))
        steps = int(round((1.0 - size) / stride)) + 1
        for row in range(steps):
            for col in range(steps):
                x0, y0 = round(width * stride * col), round(height * stride * row)
                boxes.append((x0, y0, min(width, x0 + w), min(height, y0 + h)))
    return boxes


def trim_border(image: np.ndarray, tolerance: float = 12.0, max_fraction: float = 0.2) -> np.ndarray:
    """Cut a flat frame (uniform rows/columns at the edges) that copy shops add around photos."""
    height, width = image.shape[:2]
    if min(height, width) < 32:
        return image
    # Three times the mean grey level (exact in float32): cv2 sums the channels >10x faster than numpy.
    grey = cv2.transform(image.astype(np.float32), _CHANNEL_SUM) if image.shape[2] == 3 else 3 * image.mean(axis=2, dtype=np.float32)
    limit = 3 * tolerance
    corner = grey[0, 0]

    def run(lines: np.ndarray) -> int:
        """How many of `lines` (outermost first) are flat and of the corner's level: only a
        `max_fraction` band at each edge can be a frame, so only those lines are looked at."""
        flat = (np.abs(lines - lines[:, :1]).max(axis=1) < limit) & (np.abs(lines[:, 0] - corner) < limit)
        return len(flat) if flat.all() else int(np.argmin(flat))

    rows, cols = int(height * max_fraction), int(width * max_fraction)
    if not rows or not cols:
        return image
    top, bottom = run(grey[:rows]), run(grey[height - rows :][::-1])
    left, right = run(grey[:, :cols].T), run(grey[:, width - cols :][:, ::-1].T)
    return image[top : height - bottom, left : width - right]


_CHANNEL_SUM = np.ones((1, 3), np.float32)


def plain_background(image: np.ndarray, tolerance: int = 24, plain_border: float = 0.6) -> np.ndarray | None:
    """The colour (int16 RGB) around a mark on a plain background; None for a photo, whose
    border is not mostly one colour (`plain_border` of its edge pixels within `tolerance`)."""
    if min(image.shape[:2]) < 8:
        return None
    edges = np.concatenate([image[0], image[-1], image[:, 0], image[:, -1]]).astype(np.int16)
    background = np.median(edges, axis=0).astype(np.int16)
    if (np.abs(edges - background).max(axis=1) <= tolerance).mean() < plain_border:
        return None
    return background


def frame_mark(image: np.ndarray, margin: float, tolerance: int = 24) -> np.ndarray:
    """A logo on a plain background, re-framed with `margin` (share of the mark's longer side)
    of that background around it; a photo (`plain_background` None) is returned as it is.

    Users' logo files come cropped tight to the mark or with wide empty margins; a model
    matches marks framed as in its training (`EmbeddingModel.gallery_margin`; README,
    "Gallery framing")."""
    background = plain_background(image, tolerance)
    if background is None:
        return image
    low, high = np.clip(background - tolerance, 0, 255), np.clip(background + tolerance, 0, 255)
    x, y, w, h = cv2.boundingRect(255 - cv2.inRange(image, low.astype(np.uint8), high.astype(np.uint8)))
    if w == 0 or h == 0:
        return image
    pad = round(margin * max(w, h))
    colour = tuple(int(v) for v in background)
    return cv2.copyMakeBorder(image[y : y + h, x : x + w], pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=colour)


def embed_images(model: EmbeddingModel, images: list[np.ndarray], grid: Grid = CROP_GRID) -> list[ImageEmbedding]:
    """Whole-image and crop vectors for a batch of images: one batched pass over the whole
    photos (logo and product spaces) and one over all their crop windows."""
    boxes = [crop_boxes(image.shape[1], image.shape[0], grid) if min(image.shape[:2]) >= 64 else [] for image in images]
    wholes, products = model.embed_with_products([trim_border(image) for image in images])
    crop_vectors, text_cells = model.embed_windows_and_text(images, boxes)
    starts = np.cumsum([0] + [len(windows) for windows in boxes])
    return [
        ImageEmbedding(whole=wholes[i], crops=crop_vectors[starts[i] : starts[i + 1]], boxes=boxes[i], product=products[i], text_cells=text_cells[i])
        for i in range(len(images))
    ]
