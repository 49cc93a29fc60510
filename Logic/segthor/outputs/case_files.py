"""The files one segmented case leaves in the output folder, each written atomically.

Order matters: the case JSON is written last, so its presence means every other file of the case is
complete (what `batch --resume` relies on).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from segthor.io.volume import Volume, write_volume
from segthor.outputs.seg_nrrd import write_seg_nrrd


@dataclass(frozen=True)
class CasePaths:
    seg_nrrd: Path
    labels: Path
    preview: Path
    report: Path

    @classmethod
    def for_case(cls, output_dir: str | os.PathLike[str], case: str) -> CasePaths:
        out = Path(output_dir)
        return cls(
            seg_nrrd=out / f"{case}.seg.nrrd",
            labels=out / f"{case}_labels.nii.gz",
            preview=out / f"{case}_preview.png",
            report=out / f"{case}.json",
        )

    def as_dict(self) -> dict[str, str]:
        return {k: str(v) for k, v in self.__dict__.items()}


def write_preview(ct: Volume, labels: Volume, path: Path, title: str) -> Path:
    from segthor.render import write_overlay_png

    write_overlay_png(ct, labels.array, path, title)
    return path


def write_image_outputs(ct: Volume, labels: Volume, paths: CasePaths, title: str, quality: Any = None) -> None:
    """Labels NIfTI, Slicer .seg.nrrd (with each organ's plausibility in its segment tags when `quality`, a
    `segthor.quality.QualityReport`, is given) and the preview PNG (not the report)."""
    write_volume(labels, paths.labels)
    write_seg_nrrd(labels, paths.seg_nrrd, quality)
    write_preview(ct, labels, paths.preview, title)


def write_report(report: dict[str, Any], path: Path) -> Path:
    """Write the case JSON (strict JSON: NaN/inf, e.g. HD95 of an empty organ, become null)."""
    from segthor.metrics.writers import write_json

    write_json(report, path)
    return path
