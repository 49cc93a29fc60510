"""Writing organ labels as a DICOM Segmentation (SEG) referring to the source CT series, with highdicom.

One binary segment per organ of the organ table (segment number = SegTHOR label), labelled with the
organ's name, SNOMED CT property type, category "Anatomical Structure" (SCT 123037004, as in Slicer's
terminology), algorithm type AUTOMATIC with an "Artificial Intelligence" algorithm identification, and
the organ's colour (CIELab). Frames are the CT's own slices (highdicom copies each slice's plane and
references its SOP instance); empty frames are left out, as highdicom does by default.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from segthor.dicom_rt.sampling import labels_on_series
from segthor.dicom_rt.series import SourceSeries
from segthor.io.atomic import atomic_path
from segthor.io.volume import Volume
from segthor.organs import ORGANS, Organ

ANATOMICAL_STRUCTURE = ("123037004", "SCT", "Anatomical Structure")


def _lab(organ: Organ) -> Any:
    from highdicom.color import CIELabColor
    from skimage.color import rgb2lab

    lab = rgb2lab(np.array(organ.color_rgb, dtype=float).reshape(1, 1, 3) / 255.0)[0, 0]
    return CIELabColor(
        float(np.clip(lab[0], 0, 100)), float(np.clip(lab[1], -128, 127)), float(np.clip(lab[2], -128, 127))
    )


def segment_descriptions(algorithm_name: str, algorithm_version: str) -> list[Any]:
    """highdicom SegmentDescriptions of the four organs, numbered by SegTHOR label."""
    import highdicom as hd
    from pydicom.sr.codedict import codes
    from pydicom.sr.coding import Code

    algorithm = hd.AlgorithmIdentificationSequence(
        name=algorithm_name[:64] or "segthor",
        family=codes.cid7162.ArtificialIntelligence,
        version=algorithm_version[:64] or "unknown",
    )
    return [
        hd.seg.SegmentDescription(
            segment_number=organ.label,
            segment_label=organ.name,
            segmented_property_category=Code(*ANATOMICAL_STRUCTURE),
            segmented_property_type=Code(organ.snomed_code, "SCT", organ.snomed_meaning),
            algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC,
            algorithm_identification=algorithm,
            display_color=_lab(organ),
        )
        for organ in ORGANS
    ]


def build_dicom_seg(
    labels: Volume,
    series: SourceSeries,
    series_description: str,
    algorithm_name: str = "segthor",
    algorithm_version: str = "",
    software_version: str = "",
) -> Any:
    """The highdicom `Segmentation` (a pydicom Dataset) of `labels` on `series`'s slices."""
    import highdicom as hd
    from pydicom.uid import generate_uid

    stack = labels_on_series(labels, series)
    source = series.first
    with warnings.catch_warnings():
        # highdicom checks the patient name it copies from the CT ("PAT1" has one component); the user cannot
        # fix the source series, and the warning would break the CLI's one-line output.
        warnings.filterwarnings("ignore", ".*unlikely to represent the intended person name", UserWarning)
        seg = hd.seg.Segmentation(
            source_images=series.datasets,
            pixel_array=stack,  # a label map: value n is segment n
            segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
            segment_descriptions=segment_descriptions(algorithm_name, algorithm_version),
            series_instance_uid=generate_uid(),
            series_number=int(source.get("SeriesNumber", 0) or 0) + 1001,
            sop_instance_uid=generate_uid(),
            instance_number=1,
            manufacturer="SegTHORSlicer",
            manufacturer_model_name="segthor",
            software_versions=software_version or "unknown",
            device_serial_number="0",
            content_description=series_description[:64],
            content_label="SEGTHOR",
        )
    seg.SeriesDescription = series_description[:64]
    return seg


def write_dicom_seg(
    labels: Volume,
    series: SourceSeries,
    path: str | os.PathLike[str],
    series_description: str,
    algorithm_name: str = "segthor",
    algorithm_version: str = "",
    software_version: str = "",
) -> Path:
    """Write the DICOM SEG of `labels` on `series` to `path` atomically (see `build_dicom_seg`)."""
    path = Path(path)
    seg = build_dicom_seg(labels, series, series_description, algorithm_name, algorithm_version, software_version)
    with atomic_path(path) as tmp:
        seg.save_as(tmp)
    return path
