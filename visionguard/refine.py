"""A second look at photos the first search is unsure about.

The scan's 3x3 grid of half-size windows frames most logos, but a logo that straddles two
windows, or is too large or too small for them, matches its brand below the threshold. For a
photo whose best brand scores between the model's `refine_floor` and its logo threshold,
the windows of two more grids (0.4 and 0.7 of the photo) that overlap the grid windows that
matched best are embedded and searched too, and the brand is decided again over all windows.
Held-out brands end to end: logos at 10-60% of the width 0.905-0.915 -> 0.925-0.950 on
three seeds (a fourth, not used to choose: 0.900 both ways, false brands 1.0 -> 0.5%), at
10-25% 0.79-0.86 -> 0.87-0.91; about a quarter of photos get it, 53-73 ms each (README,
"Second look").
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from visionguard.embed import Box, Grid, ImageEmbedding, box_intersection, crop_boxes
from visionguard.index import GalleryIndex
from visionguard.models import EmbeddingModel
from visionguard.search import SearchThresholds, VisualMatch, add_brand_scores, decide_brand

#: Windows of the second look: (size, stride) as in `embed.crop_boxes`.
REFINE_GRID: Grid = ((0.4, 0.15), (0.7, 0.3))
#: A second-look window is embedded when it overlaps a grid window that matched (IoU).
MIN_OVERLAP = 0.25


def unsure(match: VisualMatch | None, thresholds: SearchThresholds) -> bool:
    """Close enough to a brand to look again, not close enough to decide."""
    floor = thresholds.refine_floor
    return match is not None and floor is not None and floor <= match.brand_score < thresholds.logo


def refine_boxes(image: np.ndarray, embedding: ImageEmbedding, window_scores: np.ndarray, floor: float) -> list[Box]:
    """Second-look windows overlapping the windows whose best similarity reached `floor`."""
    anchors = [box for box, score in zip(embedding.boxes, window_scores) if score >= floor]
    done = set(embedding.boxes)
    return [box for box in crop_boxes(image.shape[1], image.shape[0], REFINE_GRID)
            if box not in done and any(_iou(box, anchor) >= MIN_OVERLAP for anchor in anchors)]


def refine_matches(model: EmbeddingModel, index: GalleryIndex, images: Sequence[np.ndarray],
                   embeddings: Sequence[ImageEmbedding], matches: Sequence[VisualMatch | None],
                   thresholds: SearchThresholds, k: int = 16) -> list[int]:
    """Look again at the unsure photos of a batch (one batched embedding and search); updates
    their matches in place and returns the positions of the photos it looked at again."""
    picks: list[tuple[int, list[Box]]] = []
    for i, (embedding, match) in enumerate(zip(embeddings, matches)):
        if unsure(match, thresholds) and match.window_scores is not None:
            boxes = refine_boxes(images[i], embedding, match.window_scores, thresholds.refine_floor)
            if boxes:
                picks.append((i, boxes))
    if not picks:
        return []
    crops = [images[i][y0:y1, x0:x1] for i, boxes in picks for x0, y0, x1, y1 in boxes]
    vectors = model.embed_crops(crops)  # in small runs: `EmbeddingModel.crop_batch_size`
    scores, ids = index.search(vectors, k)
    row = 0
    for i, boxes in picks:
        add_brand_scores(index, matches[i], scores[row : row + len(boxes)], ids[row : row + len(boxes)], boxes)
        decide_brand(index, matches[i], thresholds)
        row += len(boxes)
    return [i for i, _ in picks]


def _iou(a: Box, b: Box) -> float:
    inter = box_intersection(a, b)
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter) if inter else 0.0
