"""Turn the evidence on a `ScanResult` into a risk in [0, 1] and reasons a person can read.

Each signal contributes an independent risk; they combine as 1 - prod(1 - r), so two
signals raise the risk above either alone, and nothing exceeds 1.
"""

from __future__ import annotations

from visionguard.results import ScanResult
from visionguard.search import VisualMatch

RISK_ALTERED = 0.9  # a name spelled to pass for a brand: the classic counterfeit tell
RISK_DUPLICATE = 0.6  # an official product photo reused: often a counterfeit shop front
RISK_BRANDED = 0.15  # a brand is present: needs a look, not evidence on its own
RISK_OTHER_BRAND = 0.3  # the photo shows another brand than the listing claims: bait, or a fake sold as "Generic"

#: How a photo's `brand_source` showed its brand, for reasons.
_SHOWN_BY = {"logo": "its logo", "photo": "a copy of its official photo", "text": "its name printed"}


def apply_evidence(result: ScanResult, visual: VisualMatch | None, brand_names: dict[str, str]) -> ScanResult:
    """Fill brand, duplicate, risk and reasons from visual matches and text findings."""
    risks: list[float] = []
    reasons: list[str] = []
    if visual and visual.duplicate_of:
        result.duplicate_of, result.duplicate_score = visual.duplicate_of, visual.duplicate_score
        result.duplicate_keypoints = visual.duplicate_keypoints
        result.duplicate_agreement = visual.duplicate_agreement
        result.brand, result.brand_score, result.brand_source = visual.duplicate_brand, visual.duplicate_score, "photo"
        risks.append(RISK_DUPLICATE)
        evidence = [f"{visual.duplicate_agreement:.0%} of its pixels"] if visual.duplicate_agreement else []
        if visual.duplicate_keypoints:
            evidence.append(f"{visual.duplicate_keypoints} keypoints")
        geometry = f"; {' and '.join(evidence)} in place" if evidence else ""
        reasons.append(f"photo copies genuine image {visual.duplicate_of} (similarity {visual.duplicate_score:.2f}{geometry})")
    elif visual:
        result.duplicate_score = visual.duplicate_score
    if result.brand is None and visual and visual.brand:
        result.brand, result.brand_score, result.brand_source = visual.brand, visual.brand_score, "logo"
        reasons.append(
            f"{brand_names.get(visual.brand, visual.brand)} logo matches {visual.brand_image} "
            f"(similarity {visual.brand_score:.2f})"
        )
    if visual and visual.set_aside:
        reasons.append(visual.set_aside)
    printed = [m for m in result.mentions if m.source == "photo"]  # a title names what the seller claims, not what the photo shows
    if result.brand is None and printed:
        best = max(printed, key=lambda m: m.confidence)
        result.brand, result.brand_score, result.brand_source = best.brand, best.confidence, "text"
    for mention in result.mentions:
        reasons.append(f"{_where(mention.source)} '{mention.text}' names {mention.brand}")
    if result.brand:
        risks.append(RISK_BRANDED)
    if result.brand and result.claimed_brands and result.brand not in result.claimed_brands:
        risks.append(RISK_OTHER_BRAND)
        claimed = " / ".join(brand_names.get(c, c) for c in result.claimed_brands)
        shown = _SHOWN_BY.get(result.brand_source or "", result.brand_source)
        reasons.append(f"listing claims {claimed}, but its photo shows {brand_names.get(result.brand, result.brand)} ({shown})")
    for item in result.altered:
        risks.append(RISK_ALTERED * max(0.5, item.score))
        reasons.append(f"{_where(item.source)} '{item.text}' imitates {item.brand} ({', '.join(item.changes)})")
    remaining = 1.0
    for risk in risks:
        remaining *= 1.0 - risk
    result.risk = 1.0 - remaining
    result.reasons = reasons
    return result


def _where(source: str) -> str:
    return "title text" if source == "title" else "text"
