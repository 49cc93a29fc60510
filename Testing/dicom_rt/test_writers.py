"""RTSTRUCT and DICOM SEG written on a synthetic DICOM CT series: references, ROIs, contours, read-back."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest
from readers import read_rtstruct_matplotlib, read_rtstruct_rtutils, read_seg_highdicom, read_seg_pydicom

from segthor.dicom_rt.contours import mask_contours, rasterise_polygons
from segthor.dicom_rt.outputs import series_description
from segthor.dicom_rt.references import read_dicom_labels
from segthor.dicom_rt.rtstruct_writer import write_rtstruct
from segthor.dicom_rt.sampling import labels_on_series
from segthor.dicom_rt.seg_writer import write_dicom_seg
from segthor.dicom_rt.series import read_series
from segthor.io.volume import Volume, read_volume
from segthor.organs import ORGANS

DESCRIPTION = series_description("demo weights, synthetic training data, not for clinical use")


def dice(a: np.ndarray, b: np.ndarray) -> float:
    total = a.sum() + b.sum()
    return 1.0 if total == 0 else 2.0 * float((a & b).sum()) / float(total)


@pytest.fixture(scope="module")
def written(ct_dir, labels_truth, tmp_path_factory):
    """The phantom labels on the CT read by segthor's reader, written as RTSTRUCT and SEG."""
    out = tmp_path_factory.mktemp("dicom_out")
    ct = read_volume(ct_dir)
    series = read_series(ct_dir)
    labels = ct.with_array(labels_truth)
    rt = write_rtstruct(labels, series, out / "case_rtstruct.dcm", DESCRIPTION, "long text", "9.9")
    seg = write_dicom_seg(labels, series, out / "case_seg.dcm", DESCRIPTION, "phantom", "1", "9.9")
    return {"rtstruct": rt, "seg": seg, "series": series}


def test_contours_reproduce_holes_islands_and_thin_parts():
    mask = np.zeros((20, 24), bool)
    mask[2:15, 2:15] = True
    mask[5:10, 5:10] = False  # a hole
    mask[7, 7] = True  # an island in the hole
    mask[17:20, 0:4] = True  # touching the border
    mask[10, 18], mask[11, 19] = True, True  # two pixels touching diagonally
    mask[0:12, 22] = True  # a one-pixel-wide line
    polygons = mask_contours(mask)
    assert len(polygons) == 7  # outer, hole, island, border block, two diagonal pixels, line
    np.testing.assert_array_equal(rasterise_polygons(polygons, mask.shape), mask)
    assert mask_contours(np.zeros((4, 4), bool)) == []


def test_series_description_keeps_the_warning():
    assert len(DESCRIPTION) <= 64 and "NOT FOR CLINICAL USE" in DESCRIPTION
    assert series_description("") == "SegTHOR organs"
    assert series_description("test model") == "SegTHOR - test model"


def test_rtstruct_refers_to_the_series_and_names_the_organs(written, ct_dir):
    import pydicom

    series = written["series"]
    ds = pydicom.dcmread(written["rtstruct"])
    ct = [pydicom.dcmread(p, stop_before_pixels=True) for p in sorted(ct_dir.iterdir())]
    assert ds.Modality == "RTSTRUCT" and ds.SeriesDescription == DESCRIPTION
    assert ds.StudyInstanceUID == ct[0].StudyInstanceUID and ds.PatientID == ct[0].PatientID
    assert ds.SeriesInstanceUID != ct[0].SeriesInstanceUID
    frame = ds.ReferencedFrameOfReferenceSequence[0]
    assert frame.FrameOfReferenceUID == ct[0].FrameOfReferenceUID == ds.FrameOfReferenceUID
    study = frame.RTReferencedStudySequence[0]
    assert study.ReferencedSOPInstanceUID == ct[0].StudyInstanceUID
    ref_series = study.RTReferencedSeriesSequence[0]
    assert ref_series.SeriesInstanceUID == ct[0].SeriesInstanceUID
    assert {i.ReferencedSOPInstanceUID for i in ref_series.ContourImageSequence} == {c.SOPInstanceUID for c in ct}
    assert [r.ROIName for r in ds.StructureSetROISequence] == [o.name for o in ORGANS]
    for organ, roi, obs in zip(ORGANS, ds.ROIContourSequence, ds.RTROIObservationsSequence, strict=True):
        assert list(roi.ROIDisplayColor) == list(organ.color_rgb)
        code = obs.RTROIIdentificationCodeSequence[0]
        assert (code.CodeValue, code.CodingSchemeDesignator) == (organ.snomed_code, "SCT")
        for contour in roi.ContourSequence:  # each contour lies in the plane of the slice it references
            uid = contour.ContourImageSequence[0].ReferencedSOPInstanceUID
            s = next(s for s in series.slices if s.sop_instance_uid == uid)
            points = np.array(contour.ContourData, dtype=float).reshape(-1, 3)
            assert np.allclose((points - s.position) @ series.normal, 0.0, atol=1e-3)
            assert contour.NumberOfContourPoints == len(points)
    heart = ds.ROIContourSequence[1].ContourSequence
    on_slice_5 = [
        c for c in heart if c.ContourImageSequence[0].ReferencedSOPInstanceUID == series.slices[5].sop_instance_uid
    ]
    assert len(on_slice_5) == 3  # outer contour, hole, island in the hole


def test_rtstruct_reads_back_exactly_in_two_readers(written, ct_dir, labels_truth):
    ours = read_dicom_labels(written["rtstruct"], ct_dir=ct_dir).volume.array
    np.testing.assert_array_equal(ours, labels_truth)
    independent = read_rtstruct_matplotlib(written["rtstruct"], ct_dir)
    for organ in ORGANS:
        truth = labels_truth == organ.label
        assert dice(independent[organ.name], truth) >= 0.99
        np.testing.assert_array_equal(independent[organ.name], truth)


def test_rtutils_finds_every_roi_on_the_right_slices(tmp_path, labels_truth):
    """rt-utils reads contours as passing through boundary pixel centres (rounded vertices, edges filled), so
    on our voxel-boundary contours it adds at most a one-pixel ring; it misses nothing and adds no slice.
    (rt-utils 1.2.7 swaps the row and column pixel spacings, so this uses square pixels, as real CTs have.)"""
    from dicom_helpers import phantom_ct, write_ct_series
    from scipy.ndimage import binary_dilation

    pytest.importorskip("rt_utils")
    write_ct_series(phantom_ct(labels_truth, spacing=(0.7, 0.7, 3.0)), tmp_path / "ct")
    rtstruct = write_rtstruct(
        read_volume(tmp_path / "ct").with_array(labels_truth),
        read_series(tmp_path / "ct"),
        tmp_path / "rt.dcm",
        DESCRIPTION,
    )
    masks = read_rtstruct_rtutils(rtstruct, tmp_path / "ct")
    assert list(masks) == [o.name for o in ORGANS]
    ring = np.zeros((3, 3, 3), bool)
    ring[1] = True  # in-plane only
    for organ in ORGANS:
        truth = labels_truth == organ.label
        mask = masks[organ.name]
        assert not (truth & ~mask).any()
        assert not (mask & ~binary_dilation(truth, ring)).any()


def test_seg_reads_back_exactly_in_two_readers(written, ct_dir, labels_truth):
    import highdicom as hd

    seg = hd.seg.segread(written["seg"])
    assert seg.SeriesDescription == DESCRIPTION and seg.SegmentationType == "BINARY"
    assert seg.FrameOfReferenceUID == written["series"].frame_of_reference_uid
    for organ in ORGANS:
        description = seg.get_segment_description(organ.label)
        assert description.segment_label == organ.name
        assert description.segmented_property_type.value == organ.snomed_code
    for reader in (read_seg_highdicom, read_seg_pydicom):
        masks = reader(written["seg"], ct_dir)
        for organ in ORGANS:
            np.testing.assert_array_equal(masks[organ.name], labels_truth == organ.label, err_msg=reader.__name__)
    np.testing.assert_array_equal(read_dicom_labels(written["seg"], ct_dir=ct_dir).volume.array, labels_truth)


def test_labels_on_another_grid_are_sampled_onto_the_source_slices(written, ct_dir, labels_truth):
    """The CT reader may hand the labels on a differently indexed grid (here: rows and slices flipped)."""
    ct = read_volume(ct_dir)
    flip = np.diag([1.0, -1.0, -1.0])
    far = np.array(ct.ijk_to_lps() @ [0, ct.array.shape[1] - 1, ct.array.shape[0] - 1, 1])[:3]
    flipped = Volume(labels_truth[::-1, ::-1, :].copy(), ct.spacing, tuple(far), ct.direction @ flip)
    np.testing.assert_array_equal(labels_on_series(flipped, written["series"]), labels_truth)


def test_oblique_series_round_trip(tmp_path, labels_truth):
    from dicom_helpers import phantom_ct, write_ct_series

    c, s = np.cos(0.3), np.sin(0.3)
    direction = np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])  # tilted about the AP axis
    write_ct_series(phantom_ct(labels_truth, direction=direction), tmp_path / "ct")
    ct = read_volume(tmp_path / "ct")
    series = read_series(tmp_path / "ct")
    rt = write_rtstruct(ct.with_array(labels_truth), series, tmp_path / "rt.dcm", "x")
    seg = write_dicom_seg(ct.with_array(labels_truth), series, tmp_path / "seg.dcm", "x")
    for path in (rt, seg):
        np.testing.assert_array_equal(read_dicom_labels(path, ct_dir=tmp_path / "ct").volume.array, labels_truth)


@pytest.mark.skipif(shutil.which("dciodvfy") is None, reason="dciodvfy (Debian package dicom3tools) not installed")
def test_dciodvfy_finds_no_error(written):
    for path in (written["rtstruct"], written["seg"]):
        result = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True, timeout=60)
        errors = [line for line in (result.stdout + result.stderr).splitlines() if line.startswith("Error")]
        assert not errors, (path.name, errors)


def test_seg_of_a_series_with_a_one_word_patient_name_warns_nothing(tmp_path, labels_truth):
    # Real series (e.g. the IBSI chest CT) carry names such as "PAT1"; highdicom's name check is not the user's
    # business and its warning broke the CLI's output.
    import warnings

    import pydicom
    from dicom_helpers import phantom_ct, write_ct_series

    folder = tmp_path / "pat1"
    for path in write_ct_series(phantom_ct(labels_truth), folder):
        ds = pydicom.dcmread(path)
        ds.PatientName = "PAT1"
        ds.save_as(path)
    ct = read_volume(folder)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        write_dicom_seg(ct.with_array(labels_truth), read_series(folder), tmp_path / "seg.dcm", DESCRIPTION)
    assert [str(w.message) for w in caught if "person name" in str(w.message)] == []
    assert pydicom.dcmread(tmp_path / "seg.dcm").PatientName == "PAT1"
