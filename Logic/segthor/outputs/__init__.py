"""Atomic writers of a segmented case's files: .seg.nrrd, _labels.nii.gz, preview PNG, case JSON."""

from segthor.outputs.case_files import CasePaths, write_image_outputs, write_preview, write_report
from segthor.outputs.seg_nrrd import segmentation_fields, write_seg_nrrd

__all__ = ["CasePaths", "segmentation_fields", "write_image_outputs", "write_preview", "write_report", "write_seg_nrrd"]
