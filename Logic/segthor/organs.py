"""The organ table: the single source of label values, names, terminology codes and colours.

Label values follow the SegTHOR release (0 background, 1 esophagus, 2 heart, 3 trachea, 4 aorta).
SNOMED CT codes and colours are the ones Slicer's terminology logic recommends for these structures.
"""

from __future__ import annotations

from dataclasses import dataclass

_TERMINOLOGY_CONTEXT = "Segmentation category and type - 3D Slicer General Anatomy list"
_ANATOMIC_CONTEXT = "Anatomic codes - DICOM master list"


@dataclass(frozen=True)
class Organ:
    label: int
    name: str
    snomed_code: str
    snomed_meaning: str
    color_rgb: tuple[int, int, int]

    @property
    def key(self) -> str:
        """Lower-case identifier used in CLI options, CSV columns and JSON keys."""
        return self.name.lower()

    @property
    def color_float(self) -> tuple[float, float, float]:
        r, g, b = self.color_rgb
        return (r / 255.0, g / 255.0, b / 255.0)

    @property
    def terminology(self) -> str:
        """Slicer's terminology entry string (category ~ type ~ modifier ~ region ~ region modifier)."""
        return (
            f"{_TERMINOLOGY_CONTEXT}~SCT^123037004^Anatomical Structure"
            f"~SCT^{self.snomed_code}^{self.snomed_meaning}~^^~{_ANATOMIC_CONTEXT}~^^~^^"
        )


ORGANS: tuple[Organ, ...] = (
    Organ(1, "Esophagus", "32849002", "Esophagus", (211, 171, 143)),
    Organ(2, "Heart", "80891009", "Heart", (206, 110, 84)),
    Organ(3, "Trachea", "44567001", "Trachea", (182, 228, 255)),
    Organ(4, "Aorta", "15825003", "Aorta", (224, 97, 76)),
)

LABELS: dict[str, int] = {o.key: o.label for o in ORGANS}
NUM_CLASSES = len(ORGANS) + 1  # background included


def organ_by_label(label: int) -> Organ:
    for organ in ORGANS:
        if organ.label == label:
            return organ
    raise KeyError(f"no organ has label {label}; SegTHOR labels are 1-4")


def organ_by_name(name: str) -> Organ:
    """Find an organ by name, case-insensitively ('heart', 'Heart', 'HEART')."""
    for organ in ORGANS:
        if organ.key == name.strip().lower():
            return organ
    known = ", ".join(o.key for o in ORGANS)
    raise KeyError(f"unknown organ {name!r}; known organs: {known}")


def organ_by_snomed_code(code: str) -> Organ | None:
    for organ in ORGANS:
        if organ.snomed_code == code:
            return organ
    return None


def organ_for_segment(name: str, snomed_code: str | None = None) -> Organ | None:
    """The organ a segment stands for (by terminology code, else by name); see ``segthor.segment_mapping``.

    Kept here for existing callers; the rule, legacy SNOMED RT codes and user maps live in
    ``segthor.segment_mapping.organ_for_segment``.
    """
    from segthor.segment_mapping import organ_for_segment as rule

    return rule(name, snomed_code)
