"""Knowing when a result is wrong: input checks before inference and per-organ plausibility after it.

Qt-free, numpy/scipy only. `check_input` warns (or refuses) about a CT that does not suit the model;
`assess_organs` grades each predicted organ ok / check / implausible with its reasons; `assess` does both.
Thresholds and their sources: `segthor.quality.thresholds` and docs/quality.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from segthor.io.volume import Volume
from segthor.quality.findings import CHECK, IMPLAUSIBLE, OK, Finding, InputQuality, OrganQuality, QualityReport
from segthor.quality.input_checks import check_input, training_spacing_range
from segthor.quality.landmarks import Landmarks, find_landmarks
from segthor.quality.organ_checks import assess_organs
from segthor.quality.report import segment_tags, status_text, summary_lines

__all__ = [
    "CHECK",
    "IMPLAUSIBLE",
    "OK",
    "Finding",
    "InputQuality",
    "Landmarks",
    "OrganQuality",
    "QualityReport",
    "assess",
    "assess_organs",
    "check_input",
    "find_landmarks",
    "segment_tags",
    "status_text",
    "summary_lines",
    "training_spacing_range",
]


def assess(
    ct: Volume,
    labels: Volume,
    metadata: Mapping[str, Any] | None = None,
    confidence: Mapping[str, float | None] | None = None,
    input_quality: InputQuality | None = None,
    landmarks: Landmarks | None = None,
) -> QualityReport:
    """Input checks (unless given) and organ plausibility of `labels` predicted on `ct` (same geometry)."""
    if input_quality is None or landmarks is None:
        input_quality, landmarks = check_input(ct, metadata, landmarks=landmarks)
    return QualityReport(input_quality, assess_organs(ct, labels, landmarks, confidence))
