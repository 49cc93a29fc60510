"""DICOM radiotherapy interoperability: RTSTRUCT and DICOM SEG outputs on the source CT series, and
RTSTRUCT / SEG files read as organ labels (references for metrics).

Needs the optional `dicom` extra (pydicom, highdicom, scikit-image); every heavy import is inside the
functions, so importing this package costs nothing.
"""

from segthor.dicom_rt.outputs import series_description, write_dicom_outputs
from segthor.dicom_rt.references import DicomLabels, dicom_modality, is_dicom_labels, read_dicom_labels
from segthor.dicom_rt.series import SourceSeries, read_series

__all__ = [
    "DicomLabels",
    "SourceSeries",
    "dicom_modality",
    "is_dicom_labels",
    "read_dicom_labels",
    "read_series",
    "series_description",
    "write_dicom_outputs",
]
