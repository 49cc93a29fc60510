"""Real RTSTRUCT fixtures from ../shared (skipped when absent): reading clinical and library-made files, and
writing RTSTRUCT / SEG on a real chest CT."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest
from readers import read_rtstruct_matplotlib, read_rtstruct_rtutils, read_seg_pydicom

from segthor.dicom_rt.references import find_ct_series, read_dicom_labels
from segthor.dicom_rt.rtstruct_reader import rasterise_roi, read_rtstruct
from segthor.dicom_rt.rtstruct_writer import write_rtstruct
from segthor.dicom_rt.seg_writer import write_dicom_seg
from segthor.dicom_rt.series import read_series
from segthor.errors import InputError
from segthor.io.volume import read_volume
from segthor.organs import ORGANS

pytestmark = pytest.mark.shared


@pytest.fixture(scope="module")
def ibsi(shared_data_dir):
    folder = shared_data_dir / "ibsi_chest_ct_crop"
    if not folder.is_dir():
        pytest.skip("ibsi_chest_ct_crop is not in ../shared/data")
    return folder


def test_ibsi_rtstruct_matches_its_nifti_mask(ibsi):
    structure = read_rtstruct(ibsi / "dicom" / "mask" / "DCM_RS_00060.dcm")
    assert [r.name for r in structure.rois] == ["GTV-1"]
    series = find_ct_series(
        ibsi / "dicom" / "image", structure.referenced_series_uids, structure.frame_of_reference_uid
    )
    grid = series.grid()
    mask = rasterise_roi(structure.rois[0], grid)
    truth = read_volume(ibsi / "nifti" / "mask" / "mask.nii.gz")
    assert truth.same_geometry(grid, tol=1e-3)
    t = truth.array > 0
    assert 2 * (mask & t).sum() / (mask.sum() + t.sum()) >= 0.99
    with pytest.raises(InputError, match="no RTSTRUCT ROI is one of the SegTHOR organs.*GTV-1"):
        read_dicom_labels(ibsi / "dicom" / "mask" / "DCM_RS_00060.dcm", ct_dir=ibsi / "dicom" / "image")


def test_written_on_real_chest_ct_read_back_exactly(ibsi, tmp_path):
    ct_dir = ibsi / "dicom" / "image"
    ct = read_volume(ct_dir)
    z, y, x = ct.array.shape
    zz, yy, xx = np.mgrid[0:z, 0:y, 0:x]
    labels = np.zeros(ct.array.shape, np.uint8)  # smooth organ-like shapes, and the real tumour outline
    labels[((zz - z / 2) / (z / 3)) ** 2 + ((yy - y / 2) / (y / 4)) ** 2 + ((xx - x / 3) / (x / 5)) ** 2 <= 1] = 2
    labels[(yy - y / 4) ** 2 + (xx - 3 * x / 4) ** 2 <= 100] = 4
    labels[((yy - y / 4) ** 2 + (xx - 3 * x / 4) ** 2 <= 16) & (zz % 7 < 3)] = 0  # holes on some slices
    labels[(yy - 3 * y / 4) ** 2 + (xx - 3 * x / 4) ** 2 <= 64] = 3
    labels[read_volume(ibsi / "nifti" / "mask" / "mask.nii.gz").array > 0] = 1
    series = read_series(ct_dir)
    rt = write_rtstruct(ct.with_array(labels), series, tmp_path / "rt.dcm", "test")
    seg = write_dicom_seg(ct.with_array(labels), series, tmp_path / "seg.dcm", "test")
    for path in (rt, seg):
        np.testing.assert_array_equal(read_dicom_labels(path, ct_dir=ct_dir).volume.array, labels)
    rt_masks = read_rtstruct_matplotlib(rt, ct_dir)
    seg_masks = read_seg_pydicom(seg, ct_dir)
    for organ in ORGANS:
        truth = labels == organ.label
        for masks in (rt_masks, seg_masks):
            m = masks[organ.name]
            assert 2 * (m & truth).sum() / (m.sum() + truth.sum()) >= 0.99
    if shutil.which("dciodvfy"):
        for path in (rt, seg):
            out = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True, timeout=60)
            assert not [x for x in (out.stdout + out.stderr).splitlines() if x.startswith("Error")]


def test_rtutils_made_rtstruct_reads_within_one_pixel_of_rtutils(shared_data_dir):
    folder = shared_data_dir / "rtstruct" / "rtutils_mock_data"
    structure = read_rtstruct(folder / "rt.dcm")
    grid = find_ct_series(folder, structure.referenced_series_uids, structure.frame_of_reference_uid).grid()
    ours = rasterise_roi(structure.rois[0], grid)
    pytest.importorskip("rt_utils")
    theirs = read_rtstruct_rtutils(folder / "rt.dcm", folder)["ROI-1"]
    # rt-utils fills edges (contours through boundary pixel centres); we fill pixel centres inside.
    assert ours.sum() > 0 and not (ours & ~theirs).any()
    assert 2 * (ours & theirs).sum() / (ours.sum() + theirs.sum()) >= 0.9
    with pytest.raises(InputError, match="outside the CT"):
        structure = read_rtstruct(folder / "invalid_reference_rt.dcm")
        rasterise_roi(structure.rois[0], grid)


def test_oriented_series_round_trip(shared_data_dir, tmp_path):
    folder = shared_data_dir / "rtstruct" / "rtutils_oriented_data"
    ct = read_volume(folder)
    labels = np.zeros(ct.array.shape, np.uint8)
    labels[:, 2:-2, 3:-3] = 2
    series = read_series(folder)
    rt = write_rtstruct(ct.with_array(labels), series, tmp_path / "rt.dcm", "test")
    np.testing.assert_array_equal(read_dicom_labels(rt, ct_dir=folder).volume.array, labels)


def test_clinical_rtstruct_with_an_incomplete_series_is_refused(shared_data_dir):
    rtss = shared_data_dir / "rtstruct" / "dicompyler_example" / "rtss.dcm"
    structure = read_rtstruct(rtss)
    assert "Heart" in [r.name for r in structure.rois] and "Lt Lung" in [r.name for r in structure.rois]
    with pytest.raises(InputError, match="ROI 'Heart'.*outside the CT.*incomplete"):
        read_dicom_labels(rtss)


def test_segment_on_real_dicom_writes_outputs_matching_the_nifti(ibsi, band_package, tmp_path):
    """`segment` on the real chest CT series: a stand-in model marks every voxel in four narrow HU bands and the
    largest-component clean-up keeps one ragged piece per organ (with holes): RTSTRUCT and SEG match the NIfTI.
    (Without the clean-up the bands give ~140,000 speckle contours: correct, but minutes to write.)"""
    from readers import read_seg_highdicom

    from segthor.api import segment

    ct_dir = ibsi / "dicom" / "image"
    result = segment(
        ct_dir, tmp_path, model=band_package, device="cpu", output_types="nifti,rtstruct,dicom-seg", postprocess="lcc"
    )
    outputs = result.report["outputs"]
    nifti = read_volume(outputs["labels"]).array
    rt = read_rtstruct_matplotlib(outputs["rtstruct"], ct_dir)
    seg = read_seg_highdicom(outputs["dicom_seg"], ct_dir)
    for organ in ORGANS:
        truth = nifti == organ.label
        assert truth.any()
        for masks in (rt, seg):
            m = masks[organ.name]
            assert 2 * (m & truth).sum() / (m.sum() + truth.sum()) >= 0.99
