"""Per-organ plausibility of predicted labels, from anatomy alone (no reference): ok / check / implausible.

Checks per organ: empty; volume outside adult ranges; pieces and the share outside the largest; expected HU
(trachea air; heart and aorta soft tissue or contrast; esophagus soft tissue); relative positions (trachea
above and in front of the esophagus, aortic arch above the heart, esophagus in front of the spine); extent
along the body against the scan's coverage; and the network's own confidence. Thresholds and sources:
`segthor.quality.thresholds` and docs/quality.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from segthor.boxes import label_boxes
from segthor.io.volume import Volume
from segthor.organs import ORGANS
from segthor.quality import thresholds as T
from segthor.quality.findings import CHECK, IMPLAUSIBLE, OrganQuality
from segthor.quality.landmarks import Landmarks


@dataclass
class _Shape:
    """Where one organ lies in the patient frame (mm from the frame's first voxel; z grows to the head)."""

    z_lo: int
    z_hi: int
    z_centroid_mm: float
    y_per_slice_mm: dict[int, float]  # slice -> mean posterior coordinate of the organ on it


def assess_organs(
    ct: Volume,
    labels: Volume,
    landmarks: Landmarks,
    confidence: Mapping[str, float | None] | None = None,
) -> dict[str, OrganQuality]:
    """Plausibility of each organ in `labels` (SegTHOR values 0-4, `ct`'s geometry; arrays [z, y, x]).

    `landmarks` come from `find_landmarks(ct)`; `confidence` maps organ key -> mean max-softmax inside the
    organ on the network grid (None or absent: not checked). Returns organ key -> `OrganQuality`.
    """
    from scipy import ndimage

    frame = landmarks.frame
    lab = frame.view(labels.array)
    hu = frame.view(ct.array)
    boxes = label_boxes(lab, len(ORGANS))
    sz, sy, _ = frame.spacing_zyx
    n_slices = lab.shape[0]
    out: dict[str, OrganQuality] = {}
    shapes: dict[str, _Shape] = {}
    for organ in ORGANS:
        q = OrganQuality(organ.key)
        out[organ.key] = q
        limits = T.ORGAN_LIMITS[organ.key]
        box = boxes[organ.label - 1]
        if box is None:
            q.measures["volume_ml"] = 0.0
            q.flag("empty", IMPLAUSIBLE, "empty: the network found no voxels of this organ")
            continue
        mask = lab[box] == organ.label
        n_vox = int(mask.sum())
        volume = n_vox * frame.voxel_ml
        q.measures["volume_ml"] = round(volume, 2)
        _check_range(q, "volume", volume, limits.volume_ml, limits.volume_hard_ml, "volume", "ml", "adult range")

        structure = ndimage.generate_binary_structure(3, 3)
        pieces, n_pieces = ndimage.label(mask, structure=structure)
        sizes = np.sort(np.bincount(pieces.ravel())[1:])[::-1]
        share = 1.0 - float(sizes[: limits.expected_pieces].sum()) / n_vox
        q.measures["pieces"] = int(n_pieces)
        q.measures["share_outside_largest"] = round(share, 4)
        if share > T.PIECE_SHARE_IMPLAUSIBLE:
            q.flag(
                "pieces",
                IMPLAUSIBLE,
                f"{share:.0%} of the volume lies outside the largest piece "
                f"({n_pieces} pieces): fragments, not one organ",
            )
        elif share > T.PIECE_SHARE_CHECK:
            q.flag("pieces", CHECK, f"{share:.0%} of the volume lies outside the largest piece ({n_pieces} pieces)")
        elif n_pieces > T.MAX_PIECES:
            q.flag("pieces", CHECK, f"{n_pieces} separate pieces (specks besides the organ)")

        values = hu[box][mask].astype(np.float32)
        stat = float(np.percentile(values, 10)) if limits.hu_stat == "p10" else float(np.median(values))
        q.measures[f"hu_{limits.hu_stat}"] = round(stat, 1)
        what = "10th-percentile HU" if limits.hu_stat == "p10" else "median HU"
        expected = {"trachea": "air", "esophagus": "soft tissue"}.get(organ.key, "soft tissue or contrast-filled blood")
        _check_range(q, "hu", stat, limits.hu_range, limits.hu_hard_range, what, "HU", f"expected {expected}")

        # Where the organ lies: from its expected largest piece(s), so specks do not move it.
        if n_pieces > limits.expected_pieces:
            sizes_by_label = np.bincount(pieces.ravel())
            sizes_by_label[0] = 0
            kept = np.argsort(sizes_by_label)[::-1][: limits.expected_pieces]
            mask = np.isin(pieces, kept)
            n_vox = int(mask.sum())
        per_slice = mask.sum(axis=(1, 2))
        ks = np.flatnonzero(per_slice)
        k0 = box[0].start
        z_lo, z_hi = int(k0 + ks[0]), int(k0 + ks[-1])
        length = (z_hi - z_lo + 1) * sz
        q.measures["length_mm"] = round(length, 1)  # of the largest piece(s)
        if length > limits.max_length_mm:
            q.flag(
                "extent",
                IMPLAUSIBLE,
                f"spans {length:.0f} mm head to feet, more than this organ can ({limits.max_length_mm:.0f} mm)",
            )
        rows = np.arange(box[1].start, box[1].stop, dtype=float)[None, :, None] * sy
        y_sum = (mask * rows).sum(axis=(1, 2))
        y_per_slice = {int(k0 + k): float(y_sum[k] / per_slice[k]) for k in ks}
        z_centroid = float((np.arange(k0, k0 + mask.shape[0]) * per_slice).sum() / n_vox) * sz
        shapes[organ.key] = _Shape(z_lo, z_hi, z_centroid, y_per_slice)
        if organ.key == "heart":
            _check_heart_coverage(q, z_lo, z_hi, z_centroid, n_slices, landmarks)
        elif organ.key in ("esophagus", "aorta"):
            _check_tube_coverage(q, organ.key, z_lo, z_hi, landmarks)

        c = (confidence or {}).get(organ.key)
        if c is not None:
            q.measures["confidence"] = round(float(c), 4)
            if c < T.CONFIDENCE_IMPLAUSIBLE:
                q.flag(
                    "confidence",
                    IMPLAUSIBLE,
                    f"the network was unsure: mean confidence {c:.2f} (< {T.CONFIDENCE_IMPLAUSIBLE:g})",
                )
            elif c < T.CONFIDENCE_CHECK:
                q.flag(
                    "confidence", CHECK, f"the network was unsure: mean confidence {c:.2f} (< {T.CONFIDENCE_CHECK:g})"
                )
    _check_positions(out, shapes, landmarks)
    return out


def _check_range(
    q: OrganQuality,
    check: str,
    value: float,
    soft: tuple[float, float],
    hard: tuple[float, float],
    what: str,
    unit: str,
    context: str,
) -> None:
    if not hard[0] <= value <= hard[1]:
        q.flag(
            check, IMPLAUSIBLE, f"{what} {value:.0f} {unit} is far outside {soft[0]:g}-{soft[1]:g} {unit} ({context})"
        )
    elif not soft[0] <= value <= soft[1]:
        q.flag(check, CHECK, f"{what} {value:.0f} {unit} is outside {soft[0]:g}-{soft[1]:g} {unit} ({context})")


def _check_heart_coverage(
    q: OrganQuality, z_lo: int, z_hi: int, z_centroid: float, n_slices: int, landmarks: Landmarks
) -> None:
    ends = [name for name, cut in (("inferior", z_lo == 0), ("superior", z_hi == n_slices - 1)) if cut]
    if ends:
        q.flag("coverage", CHECK, f"cut by the scan's {' and '.join(ends)} end: only part of the heart is in the scan")
    lung = landmarks.lung_range()
    if lung is None:
        return
    sz = landmarks.frame.spacing_zyx[0]
    lo, hi = lung[0] * sz - T.HEART_OUTSIDE_LUNGS_MM, lung[1] * sz + T.HEART_OUTSIDE_LUNGS_MM
    if not lo <= z_centroid <= hi:
        side = "below" if z_centroid < lo else "above"
        q.flag("position", IMPLAUSIBLE, f"lies {side} the lungs: the heart sits between them")


def _check_tube_coverage(q: OrganQuality, key: str, z_lo: int, z_hi: int, landmarks: Landmarks) -> None:
    lung = landmarks.lung_range()
    if lung is None or landmarks.lung_extent_mm() < T.MIN_LUNG_EXTENT_MM:
        return  # too little thorax in the scan to expect the whole tube (the input check says so)
    overlap = max(0, min(z_hi, lung[1]) - max(z_lo, lung[0]) + 1)
    share = overlap / (lung[1] - lung[0] + 1)
    q.measures["lung_extent_covered"] = round(share, 3)
    if share < T.TUBE_LUNG_COVERAGE:
        sz = landmarks.frame.spacing_zyx[0]
        q.flag(
            "coverage",
            CHECK,
            f"covers only {overlap * sz:.0f} mm of the {landmarks.lung_extent_mm():.0f} mm "
            f"of thorax in the scan; the {key} runs through the whole thorax",
        )


def _median_offset(a: dict[int, float], b: dict[int, float] | np.ndarray) -> float | None:
    """Median over shared slices of a's posterior coordinate minus b's (negative: a lies in front of b)."""
    if isinstance(b, np.ndarray):
        diffs = [y - b[k] for k, y in a.items() if k < b.size and np.isfinite(b[k])]
    else:
        diffs = [y - b[k] for k, y in a.items() if k in b]
    return float(np.median(diffs)) if diffs else None


def _check_positions(out: dict[str, OrganQuality], shapes: dict[str, _Shape], landmarks: Landmarks) -> None:
    m = T.POSITION_MARGIN_MM
    sz = landmarks.frame.spacing_zyx[0]
    trachea, eso, heart, aorta = (shapes.get(k) for k in ("trachea", "esophagus", "heart", "aorta"))
    if trachea and eso:
        if trachea.z_centroid_mm < eso.z_centroid_mm - m:
            for key in ("trachea", "esophagus"):
                out[key].flag(
                    "position",
                    IMPLAUSIBLE,
                    "trachea lies lower than the esophagus (it should end above, at the carina)",
                )
        offset = _median_offset(trachea.y_per_slice_mm, eso.y_per_slice_mm)
        if offset is not None and offset > m:
            for key in ("trachea", "esophagus"):
                out[key].flag(
                    "position",
                    IMPLAUSIBLE,
                    f"trachea lies {offset:.0f} mm behind the esophagus (it should lie in front)",
                )
    if heart and aorta and aorta.z_hi * sz < heart.z_hi * sz - m:
        for key in ("aorta", "heart"):
            out[key].flag(
                "position",
                IMPLAUSIBLE,
                f"the aorta's top lies {(heart.z_hi - aorta.z_hi) * sz:.0f} mm "
                "below the heart's (the aortic arch should be above the heart)",
            )
    if eso:
        offset = _median_offset(eso.y_per_slice_mm, landmarks.spine_y_mm)
        if offset is not None and offset > -m:
            out["esophagus"].flag(
                "position",
                IMPLAUSIBLE,
                f"does not lie in front of the spine ({offset:+.0f} mm from the spine's dense bone)",
            )
