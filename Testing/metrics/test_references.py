"""References as users make them: any storage order, overlapping segments, legacy codes, other languages, crops."""

from __future__ import annotations

import json

import numpy as np
import pytest

from segthor.cli.main import main
from segthor.errors import InputError
from segthor.io.volume import Volume, write_volume
from segthor.metrics import evaluate_labels, evaluate_volumes
from segthor.metrics.cohort import evaluate_paths
from segthor.metrics.geometry import axial_array_axis
from segthor.metrics.label_files import read_label_image
from segthor.outputs.seg_nrrd import write_seg_nrrd
from segthor.segment_mapping import organ_for_segment, read_user_map

from .conftest import SPACING_ZYX, ellipsoid, label_pair

SPACING_XYZ = SPACING_ZYX[::-1]
# Sagittal storage of an axial [z, y, x] array: array [x, y, z]; image axis i' is physical x, y, z reversed.
SAGITTAL_DIRECTION = np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])


def _as_dicts(results):
    return {k: v.to_dict() for k, v in results.items()}  # every metric flat, as in the CSV


def _approx_equal(a, b):
    for organ in a:
        for key, value in a[organ].items():
            if isinstance(value, float):
                assert value == pytest.approx(b[organ][key], rel=1e-9, abs=1e-9), (organ, key)
            else:
                assert value == b[organ][key], (organ, key)


def _sagittal(volume_array: np.ndarray) -> Volume:
    return Volume(volume_array.transpose(2, 1, 0).copy(), SPACING_ZYX, (0.0, 0.0, 0.0), SAGITTAL_DIRECTION)


# -- storage order ---------------------------------------------------------------------------------------


def test_axial_axis_follows_the_direction_matrix():
    assert axial_array_axis(Volume(np.zeros((2, 3, 4)))) == 0
    assert axial_array_axis(_sagittal(np.zeros((2, 3, 4)))) == 2
    coronal = np.array([[1.0, 0, 0], [0, 0, 1.0], [0, 1.0, 0]])  # image y runs along S-I: array axis 1
    assert axial_array_axis(Volume(np.zeros((2, 3, 4)), direction=coronal)) == 1


@pytest.mark.parametrize("restricted", [False, True], ids=["all-slices", "restricted"])
def test_sagittal_storage_gives_the_axial_results(restricted):
    pred, ref = label_pair(shift=2)
    axial = evaluate_volumes(Volume(pred, SPACING_XYZ), Volume(ref, SPACING_XYZ), restricted=restricted)
    sagittal = evaluate_volumes(_sagittal(pred), _sagittal(ref), restricted=restricted)
    _approx_equal(_as_dicts(sagittal), _as_dicts(axial))
    # Slicing along the first array axis of the sagittal arrays would give other values: the test can fail.
    naive = evaluate_labels(_sagittal(pred).array, _sagittal(ref).array, SPACING_XYZ, restricted=restricted)
    assert naive["esophagus"].dice_2d != pytest.approx(axial["esophagus"].dice_2d)


@pytest.mark.parametrize("suffix", [".nii.gz", ".seg.nrrd"])
def test_sagittal_label_files_give_the_axial_results(tmp_path, suffix):
    pred, ref = label_pair(shift=2)
    write = write_seg_nrrd if suffix == ".seg.nrrd" else write_volume
    for name, volume in (
        ("ax_pred", Volume(pred, SPACING_XYZ)),
        ("ax_ref", Volume(ref, SPACING_XYZ)),
        ("sag_pred", _sagittal(pred)),
        ("sag_ref", _sagittal(ref)),
    ):
        write(volume, tmp_path / f"{name}{suffix}")
    axial = evaluate_paths(tmp_path / f"ax_pred{suffix}", tmp_path / f"ax_ref{suffix}", restricted=True)
    sagittal = evaluate_paths(tmp_path / f"sag_pred{suffix}", tmp_path / f"sag_ref{suffix}", restricted=True)
    _approx_equal(_as_dicts(sagittal.cases[0].organs), _as_dicts(axial.cases[0].organs))


# -- segment names and codes -----------------------------------------------------------------------------


def test_legacy_codes_synonyms_and_user_maps():
    assert organ_for_segment("Herz", "SRT^T-32000^Heart").key == "heart"
    assert organ_for_segment("x", ("SRT", "T-42000")).key == "aorta"
    assert organ_for_segment("x", "T-56000").key == "esophagus"
    assert organ_for_segment("x", "SRT^T-25000").key == "trachea"
    assert organ_for_segment("x", "SCT^80891009^Heart").key == "heart"
    assert organ_for_segment("Oesophagus").key == "esophagus"
    assert organ_for_segment("thoracic_aorta").key == "aorta"
    assert organ_for_segment("Speiseröhre") is None
    user = read_user_map(["Speiseröhre=esophagus", "trachea=ignore"])
    assert organ_for_segment("speiseröhre", None, user).key == "esophagus"
    assert organ_for_segment("Trachea", "SCT^44567001", user) is None  # the user's map wins over codes
    with pytest.raises(InputError, match="not an organ"):
        read_user_map(["Herz=hearts"])
    with pytest.raises(InputError, match="NAME=ORGAN"):
        read_user_map(["no-such-file.json"])


def _slicer_seg(path, shape, segments):
    """A .seg.nrrd as Slicer writes it (slicerio), with (name, coded type or None, mask [z, y, x]) segments."""
    slicerio = pytest.importorskip("slicerio")
    ijk_to_lps = np.diag([*SPACING_XYZ, 1.0])
    seg = slicerio.create_segmentation(shape[::-1], ijk_to_lps)
    for name, coded, mask in segments:
        segment = {"name": name}
        if coded:
            segment["terminology"] = {
                "contextName": "x",
                "category": ["SCT", "123037004", "Anatomical Structure"],
                "type": list(coded),
            }
        slicerio.add_segment(seg, mask.transpose(2, 1, 0), segment)
    slicerio.write_segmentation(str(path), seg)


READERS = pytest.mark.parametrize("use_slicerio", [True, False], ids=["slicerio", "simpleitk"])


@READERS
def test_overlapping_segments_are_scored_each_on_its_own(tmp_path, use_slicerio):
    shape = (20, 40, 40)
    heart = ellipsoid(shape, (10, 20, 20), (6, 10, 10))
    aorta = ellipsoid(shape, (10, 20, 29), (8, 4, 4))  # overlaps the heart's right side
    assert np.any(heart & aorta)
    _slicer_seg(tmp_path / "ref.seg.nrrd", shape, [("Heart", None, heart), ("Aorta", None, aorta)])
    image = read_label_image(tmp_path / "ref.seg.nrrd", use_slicerio=use_slicerio)
    assert set(image.organ_masks) == {"heart", "aorta"}
    pred = np.zeros(shape, np.uint8)
    pred[heart] = 2
    pred[aorta & ~heart] = 4  # a label map cannot hold both: the heart keeps the shared voxels
    results = evaluate_volumes(Volume(pred, SPACING_XYZ), image)
    assert results["heart"].dice == 1.0  # collapsing the reference (aorta over heart) gave < 1
    expected_aorta = 2 * np.count_nonzero(aorta & ~heart) / (np.count_nonzero(aorta & ~heart) + aorta.sum())
    assert results["aorta"].dice == pytest.approx(expected_aorta)
    assert results["heart"].volume_ref_ml == pytest.approx(heart.sum() * np.prod(SPACING_XYZ) / 1000)


@READERS
def test_legacy_coded_and_foreign_named_segments(tmp_path, use_slicerio, capsys):
    pred, ref = label_pair()
    segments = [
        ("Herz", ("SRT", "T-32000", "Heart"), ref == 2),
        ("Aorte", ("SRT", "T-42000", "Aorta"), ref == 4),
        ("Luftroehre", ("SRT", "T-25000", "Trachea"), ref == 3),
        ("Speiseroehre", None, ref == 1),  # no code, a German name
        ("Wirbelsaeule", None, np.zeros(ref.shape, bool)),  # not an organ of ours
    ]
    _slicer_seg(tmp_path / "ref.seg.nrrd", ref.shape, segments)
    image = read_label_image(tmp_path / "ref.seg.nrrd", use_slicerio=use_slicerio)
    assert np.array_equal(image.volume.array, np.where(ref == 1, 0, ref))
    assert image.unused_segments == ["Speiseroehre", "Wirbelsaeule"]
    mapped = read_label_image(
        tmp_path / "ref.seg.nrrd", use_slicerio=use_slicerio, user_map=read_user_map(["Speiseroehre=esophagus"])
    )
    assert np.array_equal(mapped.volume.array, ref) and mapped.unused_segments == ["Wirbelsaeule"]

    write_volume(Volume(ref, SPACING_XYZ), tmp_path / "pred.nii.gz")
    (tmp_path / "map.json").write_text(json.dumps({"Speiseroehre": "esophagus"}), encoding="utf-8")
    for option in (["--map", "Speiseroehre=esophagus"], ["--map", str(tmp_path / "map.json")]):
        code = main(
            [
                "evaluate",
                str(tmp_path / "pred.nii.gz"),
                str(tmp_path / "ref.seg.nrrd"),
                "--quiet",
                "--json",
                str(tmp_path / "m.json"),
                *option,
            ]
        )
        assert code == 0
        data = json.loads((tmp_path / "m.json").read_text())
        assert data["pred"]["summary"]["esophagus"]["dice"]["mean"] == 1.0
        assert data["pred"]["unused_segments"] == {"ref": {"ref": ["Wirbelsaeule"]}}
        assert "segments not used" in capsys.readouterr().err


# -- cropped references ----------------------------------------------------------------------------------


def test_cropped_reference_is_padded_and_false_positives_outside_count(tmp_path):
    shape = (20, 40, 40)
    heart = ellipsoid(shape, (10, 14, 14), (5, 6, 6))
    pred = np.zeros(shape, np.uint8)
    pred[heart] = 2
    pred[15:18, 32:36, 32:36] = 2  # a false positive far outside the reference's box
    # Slicer saves the reference cropped to its segments: same lattice, smaller extent, shifted origin.
    box = (slice(4, 17), slice(7, 22), slice(7, 22))
    origin = tuple(np.array([box[2].start, box[1].start, box[0].start]) * np.array(SPACING_XYZ))
    cropped = Volume(np.where(heart, 2, 0).astype(np.uint8)[box], SPACING_XYZ, origin)
    write_seg_nrrd(cropped, tmp_path / "ref.seg.nrrd")
    write_volume(Volume(pred, SPACING_XYZ), tmp_path / "pred.nii.gz")
    cohort = evaluate_paths(
        tmp_path / "pred.nii.gz", tmp_path / "ref.seg.nrrd", organs=["heart"], resample_to_reference=True
    )
    result = cohort.cases[0].organs["heart"]
    full = evaluate_labels(pred, np.where(heart, 2, 0), SPACING_ZYX, organs=["heart"])["heart"]
    assert result == full  # the same as a reference saved uncropped
    # Cropping the prediction to the reference's box would have dropped the false positive (Dice 1.0, HD small).
    assert result.dice < 1.0 and result.hd > 20.0
    assert result.volume_pred_ml == pytest.approx(np.count_nonzero(pred) * float(np.prod(SPACING_XYZ)) / 1000)


def test_resampling_refuses_volumes_that_do_not_overlap_and_handles_a_much_finer_reference():
    pred, ref = label_pair()
    far = Volume(ref, SPACING_XYZ, origin=(500.0, 0.0, 0.0))
    with pytest.raises(InputError, match="do not overlap in space"):
        evaluate_volumes(Volume(pred, SPACING_XYZ), far, resample_to_reference=True)
    # A reference on a lattice twice as fine in every axis: the covering grid would be 8x the prediction, so
    # the reference goes onto the prediction's grid; the same organs still agree.
    fine = np.repeat(np.repeat(np.repeat(ref, 2, axis=0), 2, axis=1), 2, axis=2)
    half = tuple(s / 2 for s in SPACING_XYZ)
    origin = tuple(-s / 4 for s in SPACING_XYZ)  # fine voxel centres inside the coarse voxels
    results = evaluate_volumes(Volume(ref, SPACING_XYZ), Volume(fine, half, origin), resample_to_reference=True)
    assert all(results[k].dice == 1.0 for k in results)


@READERS
def test_non_ascii_segment_names_match_the_users_map(tmp_path, use_slicerio):
    """Slicer writes segment names in UTF-8 ('Speiseröhre'); both readers must keep them for --map."""
    import SimpleITK as sitk

    from segthor.outputs.seg_nrrd import segmentation_fields

    _, ref = label_pair()
    volume = Volume(ref, SPACING_XYZ)
    image = volume.to_sitk()
    fields = segmentation_fields(volume)
    fields.update({"Segment0_Name": "Speiseröhre", "Segment0_Tags": "", "Segment1_Name": "Cœur", "Segment1_Tags": ""})
    for key, value in fields.items():
        image.SetMetaData(key, value)
    sitk.WriteImage(image, str(tmp_path / "ref.seg.nrrd"))
    read = read_label_image(
        tmp_path / "ref.seg.nrrd", use_slicerio=use_slicerio, user_map=read_user_map(["Speiseröhre=esophagus"])
    )
    assert read.unused_segments == ["Cœur"]
    assert np.array_equal(read.volume.array, np.where(ref == 2, 0, ref))
