"""Verification of near-duplicate candidates: does the listing reproduce a gallery photo's pixels?

A global embedding cannot tell a copy of an official photo from another photo of the same
scene or a photo that carries the same logo: all three are close in the embedding space.
A copy, however, keeps the original's pixels in place. Two alignments of the listing onto
the gallery photo are tried: the homography of matching ORB keypoints (crop, resize, frame,
watermark change nothing of it) and, for photos with few keypoints (smooth backgrounds,
blur), a search over crops of the original; the listing, warped by each, is compared with the
original pixel by pixel on small thumbnails. A copy agrees almost everywhere (a watermark or
JPEG artefacts aside); another photo of the scene, or the same logo on another background,
disagrees wherever the two photos differ. Keypoint matches alone were not enough: on smooth
photos they land on the logo only, and repeated textures give chance homographies.

Keypoints are normalised to [0, 1] of the image width and height, and thumbnails are square
(the aspect squashed the same way), so that both are stored once per gallery image, whatever
the query's size.
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
#: Side of the square thumbnails compared pixel by pixel (64x64 RGB: 12 KB per gallery photo).
THUMBNAIL_SIDE = 64
_BLUR = 1.0  # Gaussian sigma on thumbnails: resampling and JPEG noise are not differences
_TOLERANCE = 10.0  # grey levels a pixel may differ (beyond its 3x3 neighbourhood's range)
_MIN_OVERLAP = 0.5  # the aligned listing must cover this part of the original
_CROP_SCALES = (1.0, 0.95, 0.9, 0.85, 0.8)  # per axis: one photo as a crop of the other
_CROP_SIZES = [(x, y) for x in _CROP_SCALES for y in _CROP_SCALES if abs(x - y) <= 0.1]  # crops change the aspect little
_SURE = 0.9  # an agreement this high needs no other alignment
_AREA_RANGE = (0.5, 2.0)  # the listing's area in the original's frame, as a share of it
_FEW_KEYPOINTS = 100  # originals with fewer may be aligned by a crop search alone (smooth, blurred photos)
_CROP_TRIES = 3  # best crop alignments (by correlation) that are compared pixel by pixel


@dataclass(frozen=True)
class Keypoints:
    """What copy verification keeps of an image: ORB keypoints and a thumbnail."""

    points: np.ndarray  # (n, 2) float32, x and y as fractions of the width and height
    descriptors: np.ndarray  # (n, 32) uint8 ORB descriptors
    #: (THUMBNAIL_SIDE, THUMBNAIL_SIDE, 3) uint8 RGB, the aspect squashed like the points;
    #: None for gallery photos of indexes built before thumbnails were kept
    thumbnail: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.points)


@dataclass(frozen=True)
class Verification:
    inliers: int = 0  # keypoint matches consistent with one homography
    coverage: float = 0.0  # the smaller of the two inlier convex hulls, as a fraction of its image
    #: share of the original's thumbnail pixels the aligned listing reproduces, best alignment;
    #: None when one side has no thumbnail (then only the keypoint rule can decide)
    agreement: float | None = None

    def confirms(self, thresholds: SearchThresholds) -> bool:
        if self.agreement is not None:
            return self.agreement >= thresholds.copy_agreement
        return self.inliers >= thresholds.copy_inliers and self.coverage >= thresholds.copy_coverage


_MIN_SIDE = 64
EMPTY = Keypoints(np.zeros((0, 2), np.float32), np.zeros((0, 32), np.uint8))


def thumbnail(image: np.ndarray) -> np.ndarray:
    """The image as a THUMBNAIL_SIDE square (aspect squashed), RGB uint8."""
    rgb = image if image.ndim == 3 else cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    return cv2.resize(rgb, (THUMBNAIL_SIDE, THUMBNAIL_SIDE), interpolation=cv2.INTER_AREA)


def extract_keypoints(image: np.ndarray, count: int = QUERY_KEYPOINTS) -> Keypoints:
    """ORB keypoints of an RGB image, at most `count`, spread over the image, and its thumbnail."""
    small = thumbnail(image)
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if image.ndim == 3 else image
    height, width = grey.shape
    scale = DETECT_SIDE / max(height, width)
    if scale != 1:  # small copies are enlarged too: both sides then meet at the same scale
        interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        grey = cv2.resize(grey, (max(1, round(width * scale)), max(1, round(height * scale))), interpolation=interpolation)
        height, width = grey.shape
    if min(height, width) < _MIN_SIDE:  # ORB's pyramid and 31-pixel patches need room
        return Keypoints(EMPTY.points, EMPTY.descriptors, small)
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
        return Keypoints(EMPTY.points, EMPTY.descriptors, small)
    points = np.array([p.pt for p in kept], np.float32) / np.array([width, height], np.float32)
    return Keypoints(points, descriptors, small)


_MATCHER = cv2.BFMatcher(cv2.NORM_HAMMING)


def verify_copy(query: Keypoints, original: Keypoints, min_matches: int = 8) -> Verification:
    """How much of `original` reappears, in place, in `query`."""
    source, target = _matches(query, original)
    inliers, coverage, alignments = 0, 0.0, []
    homography = _homography(source, target, min_matches)
    if homography is not None:
        matrix, inlier = homography
        inliers, coverage = int(inlier.sum()), min(_hull_area(source[inlier]), _hull_area(target[inlier]))
        if _plausible(matrix):
            alignments.append(_SIDE @ matrix @ _TO_UNIT)  # in thumbnail pixels
    if query.thumbnail is None or original.thumbnail is None:
        return Verification(inliers, coverage)
    listing, gallery = _smooth(query.thumbnail), _smooth(original.thumbnail)
    agreement = max((_agreement(listing, gallery, alignment) for alignment in alignments), default=0.0)
    described = len(original) >= _FEW_KEYPOINTS  # then a crop alignment must carry keypoint matches too
    if agreement < _SURE and not (described and len(source) < min_matches):
        crops = _crop_alignments(listing, gallery)
        if described:
            crops = [crop for crop in crops if _supporting(crop, source, target) >= min_matches]
        agreement = max([agreement] + [_agreement(listing, gallery, crop) for crop in crops])
    return Verification(inliers, coverage, agreement)


_SIDE = np.diag([THUMBNAIL_SIDE, THUMBNAIL_SIDE, 1.0])  # normalised coordinates -> thumbnail pixels
_TO_UNIT = np.linalg.inv(_SIDE)
_SUPPORT_ERROR = 0.03  # how far (normalised) a matched keypoint may land from its partner


def _matches(query: Keypoints, original: Keypoints) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the keypoint pairs that pass Lowe's ratio test, in query and original."""
    if len(query) < 2 or len(original) < 2:
        return EMPTY.points, EMPTY.points
    pairs = _MATCHER.knnMatch(query.descriptors, original.descriptors, k=2)
    good = [m for m, n in (p for p in pairs if len(p) == 2) if m.distance < _RATIO * n.distance]
    return query.points[[m.queryIdx for m in good]].reshape(-1, 2), original.points[[m.trainIdx for m in good]].reshape(-1, 2)


def _homography(source: np.ndarray, target: np.ndarray, min_matches: int):
    """RANSAC homography (normalised coordinates) and its inlier mask, or None."""
    if len(source) < min_matches:
        return None
    matrix, mask = cv2.findHomography(source, target, cv2.RANSAC, _RANSAC_ERROR)
    if matrix is None or mask is None or int(mask.sum()) < min_matches:
        return None
    return matrix, mask.ravel().astype(bool)


def _plausible(matrix: np.ndarray) -> bool:
    """A copy edit's homography: the listing keeps 0.5-2x its area in the original's frame
    (crops of up to ~30% and frames of up to ~20% a side); chance matches on repeated
    textures often blow a small part of one photo up over the other."""
    corners = np.array([[[0, 0]], [[1, 0]], [[1, 1]], [[0, 1]]], np.float64)
    area = _hull_area(cv2.perspectiveTransform(corners, matrix).reshape(-1, 2))
    return _AREA_RANGE[0] <= area <= _AREA_RANGE[1]


def _supporting(alignment: np.ndarray, source: np.ndarray, target: np.ndarray) -> int:
    """Keypoint matches that a thumbnail alignment carries to their partners."""
    if len(source) == 0:
        return 0
    moved = cv2.perspectiveTransform(source.reshape(-1, 1, 2).astype(np.float64), _TO_UNIT @ alignment @ _SIDE).reshape(-1, 2)
    return int((np.linalg.norm(moved - target, axis=1) < _SUPPORT_ERROR).sum())


def _smooth(image: np.ndarray) -> np.ndarray:
    return cv2.GaussianBlur(image, (0, 0), _BLUR).astype(np.float32)


def _crop_alignments(listing: np.ndarray, gallery: np.ndarray) -> list[np.ndarray]:
    """Where the listing fits best as a crop of the original, or the original inside the
    listing (a frame that is not flat), for a few crop sizes: the alignments for photos whose
    keypoints cannot give one (smooth, blurred, few corners)."""
    side, tries = THUMBNAIL_SIDE, []
    listing_grey, gallery_grey = (cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) for image in (listing, gallery))
    for scale_x, scale_y in _CROP_SIZES:
        size = (round(side * scale_x), round(side * scale_y))
        for inner_is_listing in (True, False):
            inner, outer = (listing_grey, gallery_grey) if inner_is_listing else (gallery_grey, listing_grey)
            template = cv2.resize(inner, size, interpolation=cv2.INTER_AREA)
            _, best, _, (x, y) = cv2.minMaxLoc(cv2.matchTemplate(outer, template, cv2.TM_CCOEFF_NORMED))
            placed = np.array([[scale_x, 0, x], [0, scale_y, y], [0, 0, 1.0]])  # inner -> outer pixels
            alignment = placed if inner_is_listing else np.linalg.inv(placed)  # always listing -> original
            tries.append((best if np.isfinite(best) else -1.0, alignment))
    tries.sort(key=lambda item: -item[0])
    return [alignment for _, alignment in tries[:_CROP_TRIES]]


_NEIGHBOURHOOD = np.ones((3, 3), np.uint8)
_MAX_OFFSET = 40.0  # grey levels of brightness change a copy may carry
_SUBJECT_CONTRAST = 20.0  # grey levels from the dominant colour that make a pixel the subject
_MIN_SUBJECT = 0.02  # below this share of subject pixels the photo is plain: all pixels count


def _agreement(listing: np.ndarray, gallery: np.ndarray, alignment: np.ndarray) -> float:
    """Share of the original's pixels that the warped listing reproduces, after a per-channel
    gain and offset (re-encoding and brightness edits) and within each pixel's 3x3 range (an
    alignment a pixel off at an edge is still the same photo)."""
    side = THUMBNAIL_SIDE
    warped = cv2.warpPerspective(listing, alignment, (side, side), flags=cv2.INTER_LINEAR)
    inside = cv2.warpPerspective(np.ones((side, side), np.float32), alignment, (side, side), flags=cv2.INTER_NEAREST) > 0.5
    if inside.mean() < _MIN_OVERLAP:
        return 0.0
    mapped = np.empty_like(warped)
    for channel in range(3):
        a, b = warped[..., channel][inside], gallery[..., channel][inside]
        gain = float(np.clip(_slope(a, b), 0.8, 1.25)) if np.ptp(a) > 1 else 1.0
        offset = float(np.clip(np.median(b - gain * a), -_MAX_OFFSET, _MAX_OFFSET))
        mapped[..., channel] = gain * warped[..., channel] + offset
    low, high = cv2.erode(gallery, _NEIGHBOURHOOD), cv2.dilate(gallery, _NEIGHBOURHOOD)
    agrees = ((mapped >= low - _TOLERANCE) & (mapped <= high + _TOLERANCE)).all(axis=2)[inside]
    # A plain background agrees with any other on the same background (product shots on
    # white, logo plates): the original's subject must agree too, both the pixels away from
    # its dominant colour and those away from their neighbourhood (marks, edges, detail).
    original = gallery[inside]
    scores = [agrees.mean()]
    dominant = np.abs(original - np.median(original, axis=0)).max(axis=1) > _SUBJECT_CONTRAST
    local = cv2.medianBlur(np.clip(gallery, 0, 255).astype(np.uint8), 9).astype(np.float32)
    detail = (np.abs(gallery - local).max(axis=2) > _SUBJECT_CONTRAST)[inside]
    for subject in (dominant, detail):
        if subject.mean() >= _MIN_SUBJECT:
            scores.append(agrees[subject].mean())
    return float(min(scores))


def _slope(a: np.ndarray, b: np.ndarray) -> float:
    """Least-squares slope of b on a (np.polyfit's, without its RankWarning on near-flat
    regions, which printed to stderr in the middle of scans)."""
    a, b = a.astype(np.float64), b.astype(np.float64)
    centred = a - a.mean()
    return float((centred * (b - b.mean())).sum() / (centred * centred).sum())


def _hull_area(points: np.ndarray) -> float:
    if len(points) < 3:
        return 0.0
    return float(cv2.contourArea(cv2.convexHull(points.astype(np.float32))))


@dataclass(frozen=True)
class KeypointStore:
    """Keypoints and thumbnails of every gallery image in flat arrays, saved as `.npy` files
    and memory-mapped on load: only the rows of the candidates a scan verifies are read."""

    points: np.ndarray  # (total, 2) float16
    descriptors: np.ndarray  # (total, 32) uint8
    offsets: np.ndarray  # (images + 1,) int64: image i owns rows offsets[i]:offsets[i + 1]
    thumbnails: np.ndarray | None = None  # (images, side, side, 3) uint8; None in older indexes

    FILES = ("keypoints-points.npy", "keypoints-descriptors.npy", "keypoints-offsets.npy")
    THUMBNAILS = "keypoints-thumbnails.npy"

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, image: int) -> Keypoints:
        start, end = int(self.offsets[image]), int(self.offsets[image + 1])
        small = None if self.thumbnails is None else np.asarray(self.thumbnails[image])
        return Keypoints(np.asarray(self.points[start:end], np.float32), np.asarray(self.descriptors[start:end]), small)

    @classmethod
    def from_keypoints(cls, items: list[Keypoints]) -> "KeypointStore":
        offsets = np.zeros(len(items) + 1, np.int64)
        offsets[1:] = np.cumsum([len(k) for k in items])
        points = np.concatenate([k.points for k in items]).astype(np.float16) if items else EMPTY.points.astype(np.float16)
        descriptors = np.concatenate([k.descriptors for k in items]) if items else EMPTY.descriptors
        thumbnails = None
        if all(k.thumbnail is not None for k in items):
            side = THUMBNAIL_SIDE
            thumbnails = np.stack([k.thumbnail for k in items]) if items else np.zeros((0, side, side, 3), np.uint8)
        return cls(points.reshape(-1, 2), descriptors.reshape(-1, 32), offsets, thumbnails)

    def extended(self, items: list[Keypoints]) -> "KeypointStore":
        """This store with `items` appended (for `visionguard index add`). An index built
        before thumbnails were kept stays without them (rebuild it to get the pixel check)."""
        more = KeypointStore.from_keypoints(items)
        offsets = np.concatenate([self.offsets[:-1], more.offsets + self.offsets[-1]])
        thumbnails = None
        if self.thumbnails is not None and more.thumbnails is not None:
            thumbnails = np.concatenate([self.thumbnails, more.thumbnails])
        return KeypointStore(
            np.concatenate([self.points, more.points]), np.concatenate([self.descriptors, more.descriptors]), offsets,
            thumbnails,
        )

    def subset(self, keep: np.ndarray) -> "KeypointStore":
        """The store of the images where the boolean mask `keep` is set (`visionguard index remove`)."""
        counts = np.diff(self.offsets)
        rows = np.repeat(keep, counts)  # one flag per keypoint
        offsets = np.zeros(int(keep.sum()) + 1, np.int64)
        offsets[1:] = np.cumsum(counts[keep])
        thumbnails = None if self.thumbnails is None else np.asarray(self.thumbnails)[keep]
        return KeypointStore(np.asarray(self.points)[rows], np.asarray(self.descriptors)[rows], offsets, thumbnails)

    def save(self, folder) -> None:
        for name, array in zip(self.FILES, (self.points, self.descriptors, self.offsets)):
            np.save(folder / name, array, allow_pickle=False)
        if self.thumbnails is not None:
            np.save(folder / self.THUMBNAILS, self.thumbnails, allow_pickle=False)

    @classmethod
    def load(cls, folder, images: int) -> "KeypointStore | None":
        """The store of an index folder, or None for an index built without keypoints."""
        paths = [folder / name for name in cls.FILES]
        if not all(p.exists() for p in paths):
            return None
        points, descriptors, offsets = (np.load(p, mmap_mode="r", allow_pickle=False) for p in paths)
        thumbnails = None
        if (folder / cls.THUMBNAILS).exists():
            thumbnails = np.load(folder / cls.THUMBNAILS, mmap_mode="r", allow_pickle=False)
        side = THUMBNAIL_SIDE
        if (
            points.dtype != np.float16 or points.ndim != 2 or points.shape[1] != 2
            or descriptors.dtype != np.uint8 or descriptors.shape != (len(points), 32)
            or offsets.shape != (images + 1,) or int(offsets[-1]) != len(points)
            or (thumbnails is not None and (thumbnails.dtype != np.uint8 or thumbnails.shape != (images, side, side, 3)))
        ):
            raise ValueError("keypoint files do not match the index")
        return cls(points, descriptors, np.asarray(offsets), thumbnails)


def best_copy(query: Keypoints, candidates: list[tuple[int, float]], gallery, thresholds: SearchThresholds):
    """Verify each (gallery row, similarity) candidate against `gallery[row]`: the confirmed
    one that agrees best, as (row, similarity, Verification), or None; and whether any check
    compared pixels (then a rejection overrules the embedding's own verdict)."""
    best, compared = None, False
    for row, similarity in candidates:
        verdict = verify_copy(query, gallery[row])
        compared = compared or verdict.agreement is not None
        rank = (verdict.agreement or 0.0, verdict.inliers)
        if verdict.confirms(thresholds) and (best is None or rank > best[0]):
            best = (rank, row, similarity, verdict)
            if rank[0] >= _SURE:  # candidates come best first: no later one will do better
                break
    return (best[1:] if best else None), compared


def confirm_copy(match: VisualMatch, image: np.ndarray, index: GalleryIndex, thresholds: SearchThresholds) -> None:
    """Check `match.copy_candidates` against the photo (flat frame trimmed): the best verified
    gallery photo becomes the duplicate. When pixels were compared and nothing verified, the
    embedding's verdict is withdrawn: another photo of the same scene is not a copy. An index
    without thumbnails keeps the embedding's verdict unless keypoints confirm another photo."""
    if not match.copy_candidates or index.keypoints is None:
        return
    found, compared = best_copy(extract_keypoints(image), match.copy_candidates, index.keypoints, thresholds)
    if found is not None:
        row, similarity, verdict = found
        match.duplicate_of, match.duplicate_brand = index.paths[row], index.brand_of[row]
        match.duplicate_score, match.duplicate_keypoints = similarity, verdict.inliers
        match.duplicate_agreement = verdict.agreement or 0.0
    elif compared:
        match.duplicate_of = match.duplicate_brand = None
