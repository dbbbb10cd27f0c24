"""Geometric verification of near-duplicate candidates: do the two photos share their pixels?

A global embedding cannot tell a copy of an official photo from another photo of the same
scene or a photo that carries the same logo: all three are close in the embedding space.
A copy, however, keeps the geometry of the original: ORB keypoints of the two images match
under one homography (crop, resize, frame and watermark change nothing of that), across a
large part of both images. Different photos of the same scene match few keypoints, and a
shared logo matches only inside the logo, a small part of either image.

Keypoints are normalised to [0, 1] of the image width and height, so that coverage is a
fraction of the image and gallery keypoints can be stored once, whatever the query's size.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2
import numpy as np

if TYPE_CHECKING:  # index.py stores keypoints, so the types are imported for annotations only
    from visionguard.index import GalleryIndex
    from visionguard.search import SearchThresholds, VisualMatch

#: The longer side an image is brought to before keypoint detection: copies are often
#: downscaled, and detection at one size keeps both sides comparable and the cost flat.
DETECT_SIDE = 512
#: Keypoints kept per image, spread over a 4x4 grid so one textured corner cannot take them all.
QUERY_KEYPOINTS = 512
GALLERY_KEYPOINTS = 256
_GRID = 4
_RATIO = 0.8  # Lowe's ratio test on Hamming distances
_RANSAC_ERROR = 5.0 / DETECT_SIDE  # reprojection error, in normalised coordinates


@dataclass(frozen=True)
class Keypoints:
    points: np.ndarray  # (n, 2) float32, x and y as fractions of the width and height
    descriptors: np.ndarray  # (n, 32) uint8 ORB descriptors

    def __len__(self) -> int:
        return len(self.points)


@dataclass(frozen=True)
class Verification:
    inliers: int = 0  # keypoint matches consistent with one homography
    coverage: float = 0.0  # the smaller of the two inlier convex hulls, as a fraction of its image

    def confirms(self, min_inliers: int, min_coverage: float) -> bool:
        return self.inliers >= min_inliers and self.coverage >= min_coverage


_MIN_SIDE = 64
EMPTY = Keypoints(np.zeros((0, 2), np.float32), np.zeros((0, 32), np.uint8))


def extract_keypoints(image: np.ndarray, count: int = QUERY_KEYPOINTS) -> Keypoints:
    """ORB keypoints of an RGB image, at most `count`, spread over the image."""
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if image.ndim == 3 else image
    height, width = grey.shape
    scale = DETECT_SIDE / max(height, width)
    if scale != 1:  # small copies are enlarged too: both sides then meet at the same scale
        interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        grey = cv2.resize(grey, (max(1, round(width * scale)), max(1, round(height * scale))), interpolation=interpolation)
        height, width = grey.shape
    if min(height, width) < _MIN_SIDE:  # ORB's pyramid and 31-pixel patches need room
        return EMPTY
    orb = cv2.ORB_create(nfeatures=4 * count, fastThreshold=10)
    found = orb.detect(grey, None)
    cells: dict[tuple[int, int], list] = {}
    for point in found:
        cell = (min(_GRID - 1, int(point.pt[0] * _GRID / width)), min(_GRID - 1, int(point.pt[1] * _GRID / height)))
        cells.setdefault(cell, []).append(point)
    per_cell = max(1, count // (_GRID * _GRID))
    kept = [p for points in cells.values() for p in sorted(points, key=lambda p: -p.response)[:per_cell]]
    kept, descriptors = orb.compute(grey, kept)
    if descriptors is None or not kept:
        return EMPTY
    points = np.array([p.pt for p in kept], np.float32) / np.array([width, height], np.float32)
    return Keypoints(points, descriptors)


_MATCHER = cv2.BFMatcher(cv2.NORM_HAMMING)


def verify_copy(query: Keypoints, original: Keypoints, min_matches: int = 8) -> Verification:
    """How much of `original` reappears, geometrically consistent, in `query`."""
    if len(query) < min_matches or len(original) < min_matches:
        return Verification()
    pairs = _MATCHER.knnMatch(query.descriptors, original.descriptors, k=2)
    good = [m for m, n in (p for p in pairs if len(p) == 2) if m.distance < _RATIO * n.distance]
    if len(good) < min_matches:
        return Verification()
    source = query.points[[m.queryIdx for m in good]]
    target = original.points[[m.trainIdx for m in good]]
    _, mask = cv2.findHomography(source, target, cv2.RANSAC, _RANSAC_ERROR)
    if mask is None:
        return Verification()
    inlier = mask.ravel().astype(bool)
    return Verification(int(inlier.sum()), min(_hull_area(source[inlier]), _hull_area(target[inlier])))


def _hull_area(points: np.ndarray) -> float:
    if len(points) < 3:
        return 0.0
    return float(cv2.contourArea(cv2.convexHull(points.astype(np.float32))))


@dataclass(frozen=True)
class KeypointStore:
    """Keypoints of every gallery image in three flat arrays, saved as `.npy` files and
    memory-mapped on load: only the rows of the candidates a scan verifies are read."""

    points: np.ndarray  # (total, 2) float16
    descriptors: np.ndarray  # (total, 32) uint8
    offsets: np.ndarray  # (images + 1,) int64: image i owns rows offsets[i]:offsets[i + 1]

    FILES = ("keypoints-points.npy", "keypoints-descriptors.npy", "keypoints-offsets.npy")

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, image: int) -> Keypoints:
        start, end = int(self.offsets[image]), int(self.offsets[image + 1])
        return Keypoints(np.asarray(self.points[start:end], np.float32), np.asarray(self.descriptors[start:end]))

    @classmethod
    def from_keypoints(cls, items: list[Keypoints]) -> "KeypointStore":
        offsets = np.zeros(len(items) + 1, np.int64)
        offsets[1:] = np.cumsum([len(k) for k in items])
        points = np.concatenate([k.points for k in items]).astype(np.float16) if items else EMPTY.points.astype(np.float16)
        descriptors = np.concatenate([k.descriptors for k in items]) if items else EMPTY.descriptors
        return cls(points.reshape(-1, 2), descriptors.reshape(-1, 32), offsets)

    def extended(self, items: list[Keypoints]) -> "KeypointStore":
        """This store with `items` appended (for `visionguard index add`)."""
        more = KeypointStore.from_keypoints(items)
        offsets = np.concatenate([self.offsets[:-1], more.offsets + self.offsets[-1]])
        return KeypointStore(
            np.concatenate([self.points, more.points]), np.concatenate([self.descriptors, more.descriptors]), offsets
        )

    def save(self, folder) -> None:
        for name, array in zip(self.FILES, (self.points, self.descriptors, self.offsets)):
            np.save(folder / name, array, allow_pickle=False)

    @classmethod
    def load(cls, folder, images: int) -> "KeypointStore | None":
        """The store of an index folder, or None for an index built without keypoints."""
        paths = [folder / name for name in cls.FILES]
        if not all(p.exists() for p in paths):
            return None
        points, descriptors, offsets = (np.load(p, mmap_mode="r", allow_pickle=False) for p in paths)
        if (
            points.dtype != np.float16 or points.ndim != 2 or points.shape[1] != 2
            or descriptors.dtype != np.uint8 or descriptors.shape != (len(points), 32)
            or offsets.shape != (images + 1,) or int(offsets[-1]) != len(points)
        ):
            raise ValueError("keypoint files do not match the index")
        return cls(points, descriptors, np.asarray(offsets))


def confirm_copy(match: VisualMatch, image: np.ndarray, index: GalleryIndex, thresholds: SearchThresholds) -> None:
    """Check `match.copy_candidates` against the photo's geometry (flat frame trimmed): the
    best verified gallery photo becomes the duplicate. When none verifies, the embedding's
    own verdict (similarity >= `thresholds.duplicate`) stands, so textureless photos, which
    have no keypoints, are still judged."""
    if not match.copy_candidates or index.keypoints is None:
        return
    query = extract_keypoints(image)
    best: tuple[Verification, int, float] | None = None
    for row, similarity in match.copy_candidates:
        verdict = verify_copy(query, index.keypoints[row])
        if verdict.confirms(thresholds.copy_inliers, thresholds.copy_coverage) and (best is None or verdict.inliers > best[0].inliers):
            best = (verdict, row, similarity)
    if best is not None:
        verdict, row, similarity = best
        match.duplicate_of, match.duplicate_brand = index.paths[row], index.brand_of[row]
        match.duplicate_score, match.duplicate_keypoints = similarity, verdict.inliers
