"""Search the gallery: which brand's logo a photo shows, and which genuine photo it copies."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from visionguard.embed import ImageEmbedding
from visionguard.index import GalleryIndex
from visionguard.models import EmbeddingModel


@dataclass(frozen=True)
class SearchThresholds:
    """Cosine thresholds. Each model carries its own, calibrated when it was trained (its
    model card); these defaults are the ImageNet baseline's (README, Thresholds)."""

    logo: float = 0.55  # best crop-to-gallery similarity for a brand to count as seen
    logo_margin: float = 0.10  # lead over the best other brand
    #: whole photo (flat frame trimmed) vs. a genuine gallery photo, enough on its own where
    #: pixels cannot be compared (indexes built without thumbnails, verification failed)
    duplicate: float = 0.90
    # Verification (verify.py) of the `copy_top` gallery photos most similar to the listing, if
    # at least `copy_candidate` similar: a copy reproduces `copy_agreement` of the original's
    # pixels once aligned. Indexes without thumbnails fall back to `copy_inliers` keypoint
    # matches under one homography covering `copy_coverage` of both images. Other photos of
    # the same scene can outrank a heavily edited copy, hence five candidates, not one.
    copy_top: int = 5
    copy_candidate: float = 0.35
    copy_agreement: float = 0.6
    copy_inliers: int = 15
    copy_coverage: float = 0.1
    #: A photo whose best brand scores at least this, but under `logo`, gets a second look
    #: (refine.py: more windows where it matched best). None: no second look.
    refine_floor: float | None = None

    @classmethod
    def for_model(cls, model: EmbeddingModel) -> "SearchThresholds":
        def typed(name: str, value):
            default = getattr(cls, name)
            return value if value is None else (float if default is None else type(default))(value)

        return cls(**{k: typed(k, v) for k, v in model.thresholds.items() if k in cls.__dataclass_fields__})


@dataclass
class VisualMatch:
    brand: str | None = None
    brand_score: float = 0.0
    brand_image: str | None = None
    #: the window (x0, y0, x1, y1) whose vector matched the brand best; None: the whole photo
    brand_box: tuple[int, int, int, int] | None = None
    #: why a logo verdict was withdrawn after OCR (wordmark.py), for the reasons
    set_aside: str | None = None
    runner_up_score: float = 0.0
    duplicate_of: str | None = None
    duplicate_score: float = 0.0
    duplicate_brand: str | None = None
    duplicate_keypoints: int = 0  # matching keypoints when geometry confirmed the copy
    duplicate_agreement: float = 0.0  # share of the original's pixels in place, when verified
    #: (gallery row, similarity) of gallery photos worth a copy check (verify.py), best first
    copy_candidates: list[tuple[int, float]] = field(default_factory=list)
    #: brand -> (best similarity, gallery row, window or None for the whole photo) over every
    #: window searched so far
    brand_scores: dict[str, tuple[float, int, tuple[int, int, int, int] | None]] = field(default_factory=dict, repr=False)
    #: best similarity of each crop window (`ImageEmbedding.boxes` order): where a second look starts
    window_scores: np.ndarray | None = field(default=None, repr=False)


def search_gallery(
    index: GalleryIndex, embeddings: list[ImageEmbedding], thresholds: SearchThresholds, k: int = 16
) -> list[VisualMatch]:
    """One batched FAISS search for all whole-image and crop vectors of a batch."""
    if not embeddings:
        return []
    queries = np.concatenate([np.vstack([e.whole[None, :], e.crops]) for e in embeddings])
    scores, ids = index.search(queries, k)
    copy_scores, copy_ids = index.search_products(np.stack([e.product for e in embeddings]), thresholds.copy_top)
    matches: list[VisualMatch] = []
    row = 0
    for position, embedding in enumerate(embeddings):
        count = 1 + len(embedding.crops)
        match = VisualMatch(window_scores=scores[row + 1 : row + count, 0].copy())
        add_brand_scores(index, match, scores[row : row + count], ids[row : row + count], [None, *embedding.boxes])
        decide_brand(index, match, thresholds)
        _decide_copy(index, match, copy_scores[position], copy_ids[position], thresholds)
        matches.append(match)
        row += count
    return matches


def _decide_copy(index: GalleryIndex, match: VisualMatch, scores: np.ndarray, ids: np.ndarray,
                 thresholds: SearchThresholds) -> None:
    """The embedding's verdict on the nearest gallery photo, and the candidates for verification."""
    match.copy_candidates = [(int(i), float(s)) for s, i in zip(scores, ids) if i >= 0 and s >= thresholds.copy_candidate]
    score, gallery_id = float(scores[0]), int(ids[0])
    if gallery_id < 0:
        return
    match.duplicate_score = score
    if score >= thresholds.duplicate:
        match.duplicate_of = index.paths[gallery_id]
        match.duplicate_brand = index.brand_of[gallery_id]


def add_brand_scores(index: GalleryIndex, match: VisualMatch, scores: np.ndarray, ids: np.ndarray,
                     boxes: list[tuple[int, int, int, int] | None]) -> None:
    """Fold the neighbours of some of a photo's windows (`boxes`, one per row of `scores`) into
    its best similarity per brand."""
    best = match.brand_scores
    for row_scores, row_ids, box in zip(scores.tolist(), ids.tolist(), boxes):
        for score, gallery_id in zip(row_scores, row_ids):
            if gallery_id < 0:
                continue
            brand = index.brand_of[gallery_id]
            if score > best.get(brand, (-1.0,))[0]:
                best[brand] = (score, gallery_id, box)


def decide_brand(index: GalleryIndex, match: VisualMatch, thresholds: SearchThresholds) -> None:
    """The brand whose gallery images the whole photo or one of its windows matches best, if
    it clears the threshold and leads the runner-up by the margin."""
    ranked = sorted(match.brand_scores.items(), key=lambda item: -item[1][0])
    match.brand = match.brand_image = match.brand_box = None
    if not ranked:
        return
    brand, (score, gallery_id, box) = ranked[0]
    match.brand_score = score
    match.runner_up_score = ranked[1][1][0] if len(ranked) > 1 else 0.0
    if score >= thresholds.logo and score - match.runner_up_score >= thresholds.logo_margin:
        match.brand, match.brand_image, match.brand_box = brand, index.paths[gallery_id], box
