"""DICOM series geometry from the slices themselves: order, slices that do not belong, gaps, tilt, duplicates.

Every synthetic series has voxel values that are a linear function of the patient position, so the right
value of each voxel of the read volume is known (`volume_values`), however the slices were laid out.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from dicom_factory import AXIAL, axial_positions, plane_values, volume_values, write_series, write_slice

from segthor.errors import InputError
from segthor.io.volume import read_volume


def _assert_values_right(volume, where=None, tol=1.0):
    expected = volume_values(volume)
    mask = np.ones(volume.array.shape, bool) if where is None else where
    np.testing.assert_allclose(volume.array[mask], expected[mask], atol=tol)


def test_regular_series_in_shuffled_files_is_read_exactly_without_warnings(tmp_path):
    write_series(tmp_path / "ct", axial_positions(8, 2.0))
    ct = read_volume(tmp_path / "ct")
    assert ct.array.shape == (8, 16, 16) and np.issubdtype(ct.array.dtype, np.integer)
    np.testing.assert_allclose(ct.spacing, (1.0, 1.0, 2.0))
    np.testing.assert_allclose(ct.origin, (-8.0, -8.0, 0.0))
    np.testing.assert_allclose(ct.direction, np.eye(3))
    assert ct.warnings == []
    _assert_values_right(ct, tol=0)


@pytest.mark.parametrize("layout", ["missing slice", "uneven spacing"])
def test_gaps_are_resampled_on_the_smallest_spacing_grid(tmp_path, layout):
    positions = axial_positions(9, 2.0)
    if layout == "missing slice":
        del positions[4]  # 2 mm series with one 4 mm gap
    else:
        positions = [(-8.0, -8.0, z) for z in (0, 2, 4, 6, 8.5, 10, 12, 14, 16)]  # gaps of 2, 2.5 and 1.5 mm
    write_series(tmp_path / "ct", positions)
    ct = read_volume(tmp_path / "ct")
    smallest = 2.0 if layout == "missing slice" else 1.5
    n = int(round(16 / smallest)) + 1
    assert ct.array.shape == (n, 16, 16)
    np.testing.assert_allclose(ct.spacing[2], 16 / (n - 1))
    np.testing.assert_allclose(ct.origin, (-8.0, -8.0, 0.0))
    assert len(ct.warnings) == 1
    assert "uneven slice spacing" in ct.warnings[0] and "linear interpolation" in ct.warnings[0]
    if layout == "missing slice":
        assert "1 missing slice" in ct.warnings[0]
    _assert_values_right(ct)


def test_series_sorted_downwards_by_position_reads_like_upwards(tmp_path):
    down = [(x, y, -z) for x, y, z in axial_positions(8, 2.0)]
    write_series(tmp_path / "ct", down)
    ct = read_volume(tmp_path / "ct")
    np.testing.assert_allclose(ct.origin, (-8.0, -8.0, -14.0))  # lowest slice first, k grows along the normal
    _assert_values_right(ct, tol=0)


def _tilted_iop(degrees):
    t = np.radians(degrees)
    return (1.0, 0.0, 0.0, 0.0, float(np.cos(t)), float(-np.sin(t)))


@pytest.mark.parametrize("built", ["sheared positions", "tilted orientation", "tilted orientation + header tilt"])
def test_gantry_tilt_is_resampled_onto_the_true_slice_normal(tmp_path, built):
    if built == "sheared positions":
        iop = AXIAL  # axial images whose positions drift 0.5 mm in y per 2 mm slice
        positions = [(-8.0, -8.0 + 0.5 * k, 2.0 * k) for k in range(8)]
        normal = np.array([0.0, 0.0, 1.0])
    else:
        iop = _tilted_iop(15.0)  # images tilted 15 deg about x, table advancing along z
        positions = [(-8.0, -8.0, 2.0 * k) for k in range(8)]
        normal = np.cross(iop[:3], iop[3:])
    extra = {"gantry_tilt": 15.0} if built.endswith("header tilt") else {}
    write_series(tmp_path / "ct", positions, iop=iop, **extra)
    ct = read_volume(tmp_path / "ct")
    np.testing.assert_allclose(ct.direction[:, 2], normal, atol=1e-6)
    np.testing.assert_allclose(ct.origin, positions[0])
    assert ct.array.shape[1:] == (16, 16)
    assert len(ct.warnings) == 1 and "gantry tilt" in ct.warnings[0] and "true slice normal" in ct.warnings[0]
    if extra:
        assert "GantryDetectorTilt 15" in ct.warnings[0]
    # every voxel the slices cover holds the value of its true position (the first slice entirely); the few
    # the shifted slices do not cover hold the lowest value
    right = np.abs(ct.array - volume_values(ct)) <= 1.0
    assert right[0].all() and right.mean() > 0.6
    assert (right | (ct.array == ct.array.min())).all()


def test_header_tilt_alone_with_positions_on_the_normal_needs_nothing(tmp_path):
    write_series(tmp_path / "ct", axial_positions(8, 2.0), gantry_tilt=12.0)
    ct = read_volume(tmp_path / "ct")
    assert ct.warnings == []
    _assert_values_right(ct, tol=0)


@pytest.mark.parametrize("localizer", ["other matrix size", "LOCALIZER same size", "other orientation"])
def test_localizers_in_the_series_are_left_out_with_a_warning(tmp_path, localizer):
    files = write_series(tmp_path / "ct", axial_positions(8, 2.0))
    uid = str(__import__("pydicom").dcmread(files[0], stop_before_pixels=True).SeriesInstanceUID)
    coronal = (1.0, 0.0, 0.0, 0.0, 0.0, -1.0)
    kwargs = {
        "other matrix size": dict(rows=20, columns=24, iop=coronal, image_type=("ORIGINAL", "PRIMARY", "LOCALIZER")),
        "LOCALIZER same size": dict(iop=coronal, image_type=("ORIGINAL", "PRIMARY", "LOCALIZER")),
        "other orientation": dict(iop=coronal),  # a scout without the LOCALIZER flag
    }[localizer]
    write_slice(tmp_path / "ct" / "scout.dcm", (-8.0, 0.0, 20.0), series_uid=uid, instance=99, **kwargs)
    ct = read_volume(tmp_path / "ct")
    assert ct.array.shape == (8, 16, 16)
    assert len(ct.warnings) == 1 and "scout.dcm" in ct.warnings[0] and "left out 1 image" in ct.warnings[0]
    _assert_values_right(ct, tol=0)


def test_identical_duplicate_is_dropped_but_different_content_in_one_plane_is_refused(tmp_path):
    files = write_series(tmp_path / "ct", axial_positions(8, 2.0))
    uid = str(__import__("pydicom").dcmread(files[0], stop_before_pixels=True).SeriesInstanceUID)
    write_slice(tmp_path / "ct" / "copy.dcm", (-8.0, -8.0, 6.0), series_uid=uid, instance=50)
    ct = read_volume(tmp_path / "ct")
    assert ct.array.shape == (8, 16, 16) and "duplicate" in ct.warnings[0]
    _assert_values_right(ct, tol=0)

    other = plane_values((-8.0, -8.0, 6.0)) + 100.0  # another phase: same plane, other values
    write_slice(tmp_path / "ct" / "copy.dcm", (-8.0, -8.0, 6.0), series_uid=uid, instance=50, values=other)
    with pytest.raises(InputError, match="same plane .* different content.*one acquisition per folder") as err:
        read_volume(tmp_path / "ct")
    assert "\n" not in str(err.value)


def test_two_separate_stacks_in_one_series_are_refused(tmp_path):
    positions = axial_positions(4, 2.0) + [(-8.0, -8.0, 200.0 + 2.0 * k) for k in range(4)]
    write_series(tmp_path / "ct", positions)
    with pytest.raises(InputError, match="separate stacks"):
        read_volume(tmp_path / "ct")


def test_several_series_in_one_folder_are_listed_and_one_can_be_chosen(tmp_path):
    write_series(tmp_path / "study", axial_positions(8, 2.0), series_number=3, description="thorax 2mm", prefix="a")
    write_series(tmp_path / "study", axial_positions(4, 4.0), series_number=5, description="thorax 4mm", prefix="b")
    with pytest.raises(InputError, match=r"2 DICOM series: #3 'thorax 2mm' \(8 images.*#5 'thorax 4mm'.*--series"):
        read_volume(tmp_path / "study")
    assert read_volume(tmp_path / "study", series="5").array.shape == (4, 16, 16)
    assert read_volume(tmp_path / "study", series="3").array.shape == (8, 16, 16)


def test_series_one_level_down_is_read_and_several_below_are_named(tmp_path):
    write_series(tmp_path / "patient" / "study" / "CT_thorax", axial_positions(8, 2.0))
    (tmp_path / "patient" / "notes.txt").write_text("not DICOM")
    ct = read_volume(tmp_path / "patient")
    assert ct.array.shape == (8, 16, 16)
    assert any("subfolder study/CT_thorax" in w for w in ct.warnings)
    _assert_values_right(ct, tol=0)

    write_series(tmp_path / "patient" / "study" / "CT_abdomen", axial_positions(4, 2.0))
    with pytest.raises(InputError, match="in subfolders: study/CT_abdomen, study/CT_thorax; give the subfolder"):
        read_volume(tmp_path / "patient")


def test_folder_without_dicom_says_so(tmp_path):
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    (tmp_path / "empty" / "readme.txt").write_text("hello")
    with pytest.raises(InputError, match="holds no DICOM image series"):
        read_volume(tmp_path / "empty")


def test_folder_with_only_an_rtstruct_names_it(tmp_path):
    # The RTSTRUCT's own folder given instead of the CT's: say what is there and where it goes.
    import pydicom

    files = write_series(tmp_path / "ct", axial_positions(4, 2.0))
    ds = pydicom.dcmread(files[0])
    ds.Modality = "RTSTRUCT"
    (tmp_path / "rs").mkdir()
    ds.save_as(tmp_path / "rs" / "RS.dcm")
    with pytest.raises(InputError, match=r"holds no DICOM image series, only RTSTRUCT RS\.dcm; .*--reference"):
        read_volume(tmp_path / "rs")


def test_compressed_transfer_syntax_is_still_decoded_by_gdcm(tmp_path):
    """Pixels stay with SimpleITK/GDCM: an RLE-compressed series reads like the plain one."""
    files = write_series(tmp_path / "plain", axial_positions(8, 2.0))
    import pydicom

    for f in files:
        ds = pydicom.dcmread(f)
        ds.compress(pydicom.uid.RLELossless)
        (tmp_path / "rle").mkdir(exist_ok=True)
        ds.save_as(tmp_path / "rle" / f.name)
    plain, rle = read_volume(tmp_path / "plain"), read_volume(tmp_path / "rle")
    np.testing.assert_array_equal(plain.array, rle.array)
    assert plain.same_geometry(rle)
    shutil.rmtree(tmp_path / "plain")


def test_one_tiny_gap_in_a_coarse_series_is_refused_not_blown_up(tmp_path):
    positions = [(-8.0, -8.0, z) for z in (0, 5, 10, 10.5, 15, 20, 25, 30)]  # 0.5 mm next to 5 mm gaps
    write_series(tmp_path / "ct", positions)
    with pytest.raises(InputError, match="spacing varies from 0.5 to 5 mm.*export the series with even spacing"):
        read_volume(tmp_path / "ct")


@pytest.mark.parametrize("shift", [(0.3, -1.7), (-2.5, 0.25), (3.0, 0.0), (0.0, -15.5)])
def test_slice_shift_matches_scipy_linear_shift(shift):
    from scipy import ndimage

    from segthor.io.dicom_geometry import shift_bilinear

    plane = np.random.default_rng(1).normal(size=(12, 17)).astype(np.float32)
    expected = ndimage.shift(plane, shift, order=1, mode="constant", cval=-5.0)
    np.testing.assert_allclose(shift_bilinear(plane, *shift, fill=-5.0), expected, atol=1e-5)


def test_tilt_and_a_missing_slice_together_are_both_regularised(tmp_path):
    positions = [(-8.0, -8.0 + 0.5 * k, 2.0 * k) for k in range(9)]
    del positions[6]
    write_series(tmp_path / "ct", positions, gantry_tilt=14.0)
    ct = read_volume(tmp_path / "ct")
    assert ct.array.shape == (9, 16, 16) and len(ct.warnings) == 2
    assert "missing slice" in ct.warnings[0] and "gantry tilt (GantryDetectorTilt 14 deg)" in ct.warnings[1]
    right = np.abs(ct.array - volume_values(ct)) <= 1.0
    assert right[0].all() and right.mean() > 0.6
    assert (right | (ct.array == ct.array.min())).all()


def test_small_gap_errors_that_add_up_are_uneven_spacing_too(tmp_path):
    gaps = [2.015] * 8 + [1.985] * 8  # each gap within 1 %, but the middle slice 0.12 mm off its even place
    z = np.concatenate([[0.0], np.cumsum(gaps)])
    write_series(tmp_path / "ct", [(-8.0, -8.0, float(v)) for v in z])
    ct = read_volume(tmp_path / "ct")
    assert ct.array.shape == (17, 16, 16) and "uneven slice spacing" in ct.warnings[0]
    np.testing.assert_allclose(ct.spacing[2], 2.0)
    _assert_values_right(ct)
