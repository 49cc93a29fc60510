"""Turning a `QualityReport` into what each front door shows: text lines, CSV cells and segment tags."""

from __future__ import annotations

from segthor.quality.findings import OK, OrganQuality, QualityReport

# Slicer segment tags are "key:value|key:value|"; these keys carry our verdict (read back by slicerio).
TAG_STATUS = "SegTHOR.Status"
TAG_REASONS = "SegTHOR.Reasons"


def organ_line(key: str, quality: OrganQuality) -> str:
    """'heart: check (volume 1800 ml is outside ...; ...)' or 'heart: ok'."""
    if quality.status == OK:
        return f"{key}: ok"
    return f"{key}: {quality.status} ({'; '.join(quality.reasons)})"


def summary_lines(report: QualityReport) -> list[str]:
    """Human-readable lines: input warnings first, then one line per organ."""
    lines = [f"warning: {w.message}" for w in report.input.warnings]
    lines += [organ_line(key, q) for key, q in report.organs.items()]
    return lines


def _tag_safe(text: str) -> str:
    # '|' separates tags; ':' separates key from value only at its first occurrence, but keep values plain.
    return text.replace("|", "/").replace(":", " -").replace("\n", " ")


def segment_tags(quality: OrganQuality) -> dict[str, str]:
    """The segment tags for one organ: status and reasons (reasons joined by '; ', empty when ok)."""
    return {TAG_STATUS: quality.status, TAG_REASONS: _tag_safe("; ".join(quality.reasons))}


def status_text(report: QualityReport) -> str:
    """One short line for a status label: 'needs review: heart implausible, aorta check' or 'all organs ok'."""
    flagged = [f"{k} {q.status}" for k, q in report.organs.items() if q.status != OK]
    if not flagged and not report.input.warnings:
        return "plausibility: all organs ok"
    parts = flagged + [f"{len(report.input.warnings)} input warning(s)"] * bool(report.input.warnings)
    return "needs review: " + ", ".join(parts)
