"""`segment`/`batch` with DICOM output types, and RTSTRUCT / SEG files as references in `segment` and `evaluate`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pydicom
import pytest
from readers import read_rtstruct_matplotlib, read_seg_highdicom
from test_writers import dice

from segthor.api import batch, segment
from segthor.cli.main import main
from segthor.dicom_rt.references import read_dicom_labels
from segthor.errors import InputError
from segthor.io.volume import read_volume, write_volume
from segthor.metrics.evaluation import evaluate
from segthor.organs import ORGANS


@pytest.fixture(scope="module")
def segmented(ct_dir, band_package, tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    # No clean-up: the default drops aorta pieces under 2 ml, which the tiny phantom's aorta is.
    return segment(
        ct_dir,
        out,
        model=band_package,
        device="cpu",
        postprocess="none",
        output_types="seg-nrrd,nifti,rtstruct,dicom-seg",
    )


def test_segment_writes_rtstruct_and_seg_that_match_the_nifti(segmented, ct_dir, labels_truth):
    outputs = segmented.report["outputs"]
    assert set(outputs) == {"seg_nrrd", "labels", "report", "rtstruct", "dicom_seg"}  # no preview: not asked
    written = json.loads(Path(outputs["report"]).read_text())["outputs"]
    assert written["rtstruct"].endswith("Phantom_01_rtstruct.dcm")
    assert written["dicom_seg"].endswith("Phantom_01_seg.dcm")
    nifti = read_volume(outputs["labels"]).array
    np.testing.assert_array_equal(nifti, labels_truth)  # the stand-in model reproduces the phantom
    rt = read_rtstruct_matplotlib(outputs["rtstruct"], ct_dir)
    seg = read_seg_highdicom(outputs["dicom_seg"], ct_dir)
    for organ in ORGANS:
        for masks in (rt, seg):
            assert dice(masks[organ.name], nifti == organ.label) >= 0.99
    for key in ("rtstruct", "dicom_seg"):
        ds = pydicom.dcmread(outputs[key], stop_before_pixels=True)
        assert "NOT FOR CLINICAL USE" in ds.SeriesDescription


def test_dicom_output_types_need_a_dicom_input(tmp_path, ct_dir, capsys):
    nifti = tmp_path / "ct.nii.gz"
    write_volume(read_volume(ct_dir), nifti)
    code = main(["segment", str(nifti), "-o", str(tmp_path / "out"), "--output-types", "nifti,rtstruct"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert "not a DICOM series folder" in err and "rtstruct" in err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
    code = main(["segment", str(nifti), "-o", str(tmp_path / "out"), "--output-types", "nifti,dicom-sr"])
    assert code == 2 and "unknown output type(s) dicom-sr" in capsys.readouterr().err
    cases = tmp_path / "cases"
    cases.mkdir()
    write_volume(read_volume(ct_dir), cases / "Loose_01.nii.gz")
    code = main(["batch", str(cases), "-o", str(tmp_path / "bout"), "--output-types", "dicom-seg"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "Loose_01" in err and "dicom-seg" in err


def test_batch_writes_dicom_outputs_per_case(ct_dir, band_package, tmp_path):
    cases = tmp_path / "cases"
    cases.mkdir()
    import shutil

    shutil.copytree(ct_dir, cases / "Phantom_01")
    summary = batch(
        cases, tmp_path / "out", model=band_package, device="cpu", output_types="rtstruct", show_progress=False
    )
    assert [r["status"] for r in summary.rows] == ["ok"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir() if p.name.startswith("Phantom")) == [
        "Phantom_01.json",
        "Phantom_01_rtstruct.dcm",
    ]


def _edited_rtstruct(source, target, rename=None, drop_codes=False, extra_roi=None):
    """A copy of an RTSTRUCT with ROIs renamed, identification codes dropped, or an extra (copied) ROI."""
    ds = pydicom.dcmread(source)
    for roi in ds.StructureSetROISequence:
        roi.ROIName = (rename or {}).get(roi.ROIName, roi.ROIName)
    if drop_codes:
        for obs in ds.RTROIObservationsSequence:
            del obs.RTROIIdentificationCodeSequence
    if extra_roi:
        import copy

        roi = copy.deepcopy(ds.StructureSetROISequence[1])
        roi.ROINumber, roi.ROIName = 9, extra_roi
        contour = copy.deepcopy(ds.ROIContourSequence[1])
        contour.ReferencedROINumber = 9
        ds.StructureSetROISequence.append(roi)
        ds.ROIContourSequence.append(contour)
    ds.save_as(target)
    return target


def test_rtstruct_rois_map_by_name_and_unmapped_ones_are_named(segmented, ct_dir, labels_truth, tmp_path):
    edited = _edited_rtstruct(
        segmented.report["outputs"]["rtstruct"],
        tmp_path / "rs.dcm",
        rename={"Heart": "HEART", "Aorta": "aorta"},
        drop_codes=True,
        extra_roi="BODY",
    )
    result = read_dicom_labels(edited, ct_dir=ct_dir)
    np.testing.assert_array_equal(result.volume.array, labels_truth)
    assert result.organs["heart"] == ["HEART"] and result.unmapped == ["BODY"]
    # The user's map wins over names and codes (here: "BODY" is declared to be the heart too).
    mapped = read_dicom_labels(edited, ct_dir=ct_dir, user_map={"body": "heart"})
    assert mapped.organs["heart"] == ["HEART", "BODY"] and mapped.unmapped == []


def test_legacy_srt_codes_map_rois_whatever_their_names(segmented, ct_dir, labels_truth, tmp_path):
    ds = pydicom.dcmread(segmented.report["outputs"]["rtstruct"])
    legacy = {"Esophagus": "T-56000", "Heart": "T-32000", "Trachea": "T-25000", "Aorta": "T-42000"}
    for roi, obs in zip(ds.StructureSetROISequence, ds.RTROIObservationsSequence, strict=True):
        code = obs.RTROIIdentificationCodeSequence[0]
        code.CodingSchemeDesignator, code.CodeValue = "SRT", legacy[roi.ROIName]
        roi.ROIName = f"Structure {roi.ROINumber}"  # names that say nothing
    ds.save_as(tmp_path / "legacy.dcm")
    result = read_dicom_labels(tmp_path / "legacy.dcm", ct_dir=ct_dir)
    np.testing.assert_array_equal(result.volume.array, labels_truth)


def test_segment_reference_rtstruct_gives_the_label_image_metrics(segmented, ct_dir, band_package, tmp_path):
    shifted = read_volume(segmented.report["outputs"]["labels"])
    shifted = shifted.with_array(np.roll(shifted.array, 2, axis=2))  # a reference that disagrees a little
    ref_nifti = write_volume(shifted, tmp_path / "ref_labels.nii.gz")
    from segthor.dicom_rt.rtstruct_writer import write_rtstruct
    from segthor.dicom_rt.series import read_series

    ref_rt = write_rtstruct(shifted, read_series(ct_dir), tmp_path / "ref_rt" / "RS.dcm", "reference")
    by_nifti = segment(ct_dir, tmp_path / "a", model=band_package, device="cpu", reference=ref_nifti)
    by_rt = segment(ct_dir, tmp_path / "b", model=band_package, device="cpu", reference=ref_rt)
    for organ in ORGANS:
        a, b = by_nifti.report["metrics"][organ.key], by_rt.report["metrics"][organ.key]
        assert a["dice"] < 1.0
        assert a == pytest.approx(b, nan_ok=True)
    assert by_rt.report["reference_unused_segments"] == []


def test_evaluate_rtstruct_and_seg_references_give_the_label_image_metrics(segmented, ct_dir, tmp_path, capsys):
    outputs = segmented.report["outputs"]
    pred = read_volume(outputs["labels"])
    pred_file = write_volume(pred.with_array(np.roll(pred.array, 1, axis=1)), tmp_path / "pred_labels.nii.gz")
    expected = evaluate(pred_file, outputs["labels"]).cohort.cases[0].organs
    # The RTSTRUCT and SEG sit beside copies of nothing: their CT is given with --reference-ct.
    for ref in (outputs["rtstruct"], outputs["dicom_seg"]):
        got = evaluate(pred_file, ref, reference_ct=ct_dir).cohort.cases[0].organs
        for organ in ORGANS:
            assert got[organ.key].to_dict() == pytest.approx(expected[organ.key].to_dict(), nan_ok=True)
    code = main(["evaluate", str(pred_file), outputs["rtstruct"], "--reference-ct", str(ct_dir), "--quiet"])
    assert code == 0 and "heart" in capsys.readouterr().out.lower()


def test_dicom_reference_without_its_ct_is_one_clear_error(segmented, ct_dir, tmp_path, labels_truth):
    from dicom_helpers import phantom_ct, write_ct_series

    outputs = segmented.report["outputs"]
    with pytest.raises(InputError, match="no usable CT series"):
        read_dicom_labels(outputs["rtstruct"])  # the output folder holds no CT
    other = tmp_path / "other_ct"
    write_ct_series(phantom_ct(labels_truth), other)  # same grid, another Frame of Reference
    with pytest.raises(InputError, match="another Frame of Reference"):
        read_dicom_labels(outputs["rtstruct"], ct_dir=other)
    with pytest.raises(InputError, match="drawn on another CT"):
        segment(other, tmp_path / "o", model="unused", device="cpu", reference=outputs["dicom_seg"])


def test_a_series_with_blanked_uids_is_refused_before_any_work_for_dicom_outputs(ct_dir, band_package, tmp_path):
    # De-identified series (e.g. a test series with empty SOP Class/Instance UIDs) are readable, but no RTSTRUCT or
    # SEG can refer to their slices: highdicom failed with a KeyError traceback after the segmentation.
    import shutil

    folder = tmp_path / "anon"
    shutil.copytree(ct_dir, folder)
    for path in folder.iterdir():
        ds = pydicom.dcmread(path)
        ds.SOPClassUID, ds.SOPInstanceUID, ds.StudyInstanceUID = "", "", ""
        ds.save_as(path)
    with pytest.raises(InputError, match=r"have no SOPClassUID, SOPInstanceUID, StudyInstanceUID .*other output types"):
        segment(folder, tmp_path / "out", model=band_package, device="cpu", output_types="seg-nrrd,rtstruct")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
    result = segment(folder, tmp_path / "out", model=band_package, device="cpu", output_types="seg-nrrd")
    assert Path(result.report["outputs"]["seg_nrrd"]).is_file()  # the CT itself is still usable
