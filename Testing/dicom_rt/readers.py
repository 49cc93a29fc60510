"""Independent readers of RTSTRUCT and SEG files for the tests: none of them uses segthor's DICOM code.

- `read_rtstruct_matplotlib`: pydicom for the file, matplotlib's point-in-polygon for the fill, contours of a
  slice combined by XOR (dicompyler-core's method; dicompyler-core itself does not support pydicom 3).
- `read_rtstruct_rtutils`: rt-utils (pydicom + OpenCV); it fills polygons through rounded vertices with their
  edges included, i.e. it reads contours as passing through boundary pixel centres.
- `read_seg_highdicom`: highdicom's own frame-to-source-instance mapping.
- `read_seg_pydicom`: pydicom only: per-frame functional groups (segment number, source SOP instance).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _ct_slices(ct_dir: Path):
    import pydicom

    slices = []
    for path in sorted(ct_dir.iterdir()):
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        if ds.get("Modality") == "CT":
            slices.append(ds)
    iop = np.array(slices[0].ImageOrientationPatient, dtype=float)
    normal = np.cross(iop[:3], iop[3:])
    slices.sort(key=lambda ds: float(normal @ np.array(ds.ImagePositionPatient, dtype=float)))
    return slices


def read_rtstruct_matplotlib(rtstruct: Path, ct_dir: Path) -> dict[str, np.ndarray]:
    """ROI name -> bool mask [slice, row, column] in the CT's slice order (sorted along the normal)."""
    import pydicom
    from matplotlib.path import Path as MplPath

    slices = _ct_slices(ct_dir)
    index = {str(ds.SOPInstanceUID): k for k, ds in enumerate(slices)}
    rows, cols = int(slices[0].Rows), int(slices[0].Columns)
    ds = pydicom.dcmread(rtstruct)
    names = {int(r.ROINumber): str(r.ROIName) for r in ds.StructureSetROISequence}
    masks = {}
    for roi in ds.ROIContourSequence:
        mask = np.zeros((len(slices), rows, cols), dtype=bool)
        for contour in roi.get("ContourSequence", []):
            k = index[str(contour.ContourImageSequence[0].ReferencedSOPInstanceUID)]
            ct = slices[k]
            iop = np.array(ct.ImageOrientationPatient, dtype=float)
            dr, dc = (float(v) for v in ct.PixelSpacing)
            points = np.array(contour.ContourData, dtype=float).reshape(-1, 3) - np.array(
                ct.ImagePositionPatient, dtype=float
            )
            pixel = np.stack([points @ iop[:3] / dc, points @ iop[3:] / dr], axis=1)  # (column, row)
            # Test the pixel centres of the contour's bounding box only (the rest is outside anyway).
            c0, r0 = np.maximum(np.floor(pixel.min(axis=0)).astype(int), 0)
            c1, r1 = np.minimum(np.ceil(pixel.max(axis=0)).astype(int) + 1, [cols, rows])
            if c0 >= c1 or r0 >= r1:
                continue
            rr, cc = np.mgrid[r0:r1, c0:c1]
            centres = np.stack([cc.ravel(), rr.ravel()], axis=1).astype(float)
            inside = MplPath(pixel).contains_points(centres).reshape(rr.shape)
            mask[k, r0:r1, c0:c1] ^= inside
        masks[names[int(roi.ReferencedROINumber)]] = mask
    return masks


def read_rtstruct_rtutils(rtstruct: Path, ct_dir: Path) -> dict[str, np.ndarray]:
    """ROI name -> bool mask [slice, row, column] as rt-utils reads it."""
    from rt_utils import RTStructBuilder

    rt = RTStructBuilder.create_from(str(ct_dir), str(rtstruct))
    return {name: np.moveaxis(rt.get_roi_mask_by_name(name), -1, 0) for name in rt.get_roi_names()}


def read_seg_highdicom(seg_path: Path, ct_dir: Path) -> dict[str, np.ndarray]:
    """Segment label -> bool mask [slice, row, column] on the CT slices, by highdicom."""
    import highdicom as hd

    slices = _ct_slices(ct_dir)
    seg = hd.seg.segread(seg_path)
    uids = [str(ds.SOPInstanceUID) for ds in slices]
    numbers = seg.get_segment_numbers()
    pixels = seg.get_pixels_by_source_instance(
        source_sop_instance_uids=uids, segment_numbers=numbers, assert_missing_frames_are_empty=True
    )
    return {seg.get_segment_description(n).segment_label: pixels[..., i] > 0 for i, n in enumerate(numbers)}


def read_seg_pydicom(seg_path: Path, ct_dir: Path) -> dict[str, np.ndarray]:
    """Segment label -> bool mask [slice, row, column], from pydicom's frames and functional groups."""
    import pydicom

    slices = _ct_slices(ct_dir)
    index = {str(ds.SOPInstanceUID): k for k, ds in enumerate(slices)}
    ds = pydicom.dcmread(seg_path)
    frames = ds.pixel_array.reshape(int(ds.NumberOfFrames), int(ds.Rows), int(ds.Columns))
    labels = {int(s.SegmentNumber): str(s.SegmentLabel) for s in ds.SegmentSequence}
    masks = {name: np.zeros((len(slices), int(ds.Rows), int(ds.Columns)), dtype=bool) for name in labels.values()}
    for frame, group in zip(frames, ds.PerFrameFunctionalGroupsSequence, strict=True):
        number = int(group.SegmentIdentificationSequence[0].ReferencedSegmentNumber)
        source = group.DerivationImageSequence[0].SourceImageSequence[0].ReferencedSOPInstanceUID
        masks[labels[number]][index[str(source)]] |= frame > 0
    return masks
