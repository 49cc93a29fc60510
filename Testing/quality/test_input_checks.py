"""Input checks: each fires on a constructed CT made to break it, and stays quiet on the good one."""

import numpy as np
import pytest
from thorax_helpers import METADATA, make_thorax

from segthor.errors import InputError
from segthor.io.patient_frame import PatientFrame
from segthor.io.volume import Volume
from segthor.preprocessing import RECIPES
from segthor.quality import check_input, training_spacing_range
from segthor.quality.input_checks import averaged_pixel_mm


def _fired(ct, metadata=METADATA):
    quality, _ = check_input(ct, metadata)
    return {w.check for w in quality.warnings}, quality


def test_good_thorax_is_quiet():
    fired, quality = _fired(make_thorax()[0])
    assert fired == set()
    region = quality.facts["body_region"]
    assert region["lungs_present"] and region["lung_slice_range_from_inferior"] == [8, 35]
    assert quality.facts["contrast"]["phase_estimate"] == "non-contrast"


def test_no_lungs_is_outside_the_thorax():
    fired, quality = _fired(make_thorax(lungs=None)[0])
    assert fired == {"outside_thorax"}
    assert "no lungs" in quality.warnings[0].message


def test_few_lung_slices_is_mostly_outside_the_thorax():
    fired, quality = _fired(make_thorax(lungs=(36, 39))[0])
    assert fired == {"outside_thorax"}
    assert "only 4 of 40 slices" in quality.warnings[0].message


def test_chest_wider_than_the_field_of_view():
    # The chest wall and the lungs' outer edge lie beyond the image's left and right edges.
    fired, quality = _fired(make_thorax(body_half_width_mm=200.0, lung_half_width_mm=95.0)[0])
    assert fired == {"fov_cuts_body"}
    assert quality.facts["field_of_view"]["slices_cut_by_edge"]["left"] == 28  # the slices with lung


def _padded_circle(ct: Volume, radius_mm: float, pad_hu: float = -3024.0) -> Volume:
    """`ct` with the padding value scanners write outside a reconstruction circle of `radius_mm`."""
    n_y, n_x = ct.array.shape[1:]
    yy, xx = np.mgrid[0:n_y, 0:n_x]
    outside = ((yy - (n_y - 1) / 2) * ct.spacing[1]) ** 2 + ((xx - (n_x - 1) / 2) * ct.spacing[0]) ** 2 > radius_mm**2
    array = ct.array.copy()
    array[:, outside] = pad_hu
    return Volume(array, ct.spacing, ct.origin, ct.direction)


def test_chest_cut_by_a_padded_reconstruction_circle():
    # Found re-making the real CT on a 350 mm field (benchmarks/bench_real_ct_variants.py): scanners pad outside
    # the circle they reconstructed, so the body met the padding, never the image's border, and the check was
    # silent. Here the chest wall and the lungs' outer edge lie beyond a 280 mm circle.
    whole = make_thorax(body_half_width_mm=150.0, lung_half_width_mm=80.0)[0]
    assert _fired(whole)[0] == set()  # inside the image's square: nothing cut
    fired, quality = _fired(_padded_circle(whole, 140.0))
    assert fired == {"fov_cuts_body"}
    cut = quality.facts["field_of_view"]["slices_cut_by_edge"]
    assert cut["left"] == cut["right"] == 28 and cut["anterior"] == 0  # the slices with lung
    # The lungs the circle cuts are still lungs (not outside air): the same slices show lung.
    assert quality.facts["body_region"]["lung_slice_range_from_inferior"] == [8, 35]


def test_a_padded_circle_around_the_whole_body_cuts_nothing():
    fired, quality = _fired(_padded_circle(make_thorax()[0], 158.0))  # body 260 mm wide, 200 mm deep
    assert fired == set()
    assert quality.facts["field_of_view"]["slices_cut_by_edge"] == {"anterior": 0, "right": 0, "left": 0}
    assert quality.facts["body_region"]["lung_slice_range_from_inferior"] == [8, 35]


def test_table_foam_cut_by_a_padded_circle_is_not_lung():
    # Found on phantoms with a reconstruction circle: the couch's foam (-900 HU, under its carbon skin) cut by
    # the circle touches the padding, not the border, and is not gas, so every slice with the table "showed
    # lung" and the organs' coverage of the thorax was flagged. It lies outside the body's hull; lungs do not.
    ct = make_thorax()[0]  # body 260 mm wide, 200 mm deep; lungs on slices 8-35
    array = ct.array.copy()
    rows = (np.arange(array.shape[1]) - array.shape[1] / 2 + 0.5) * ct.spacing[1]  # mm, towards the back
    array[:, (rows > 96.0) & (rows < 104.0), :] = 200.0  # the table's skin, across the image, under the back
    array[:, rows > 104.0, :] = -900.0  # its foam, down to the circle
    fired, quality = _fired(_padded_circle(Volume(array, ct.spacing, ct.origin, ct.direction), 150.0))
    assert fired == set()
    assert quality.facts["body_region"]["lung_slice_range_from_inferior"] == [8, 35]


def test_arms_cut_by_a_padded_circle_do_not_count():
    ct = make_thorax(arms=True)[0]
    fired, quality = _fired(_padded_circle(ct, 150.0))  # the arms reach 185 mm from the centre
    assert fired == set()


def test_arms_cut_by_the_field_of_view_do_not_count():
    ct = make_thorax(arms=True)[0]
    assert (ct.array[:, :, 0] > -500).any() and (ct.array[:, :, -1] > -500).any()  # the arms reach both edges
    fired, quality = _fired(ct)
    assert fired == set()
    assert quality.facts["field_of_view"]["slices_cut_by_edge"] == {"anterior": 0, "right": 0, "left": 0}


def test_spacing_outside_the_trained_range():
    ct = make_thorax()[0]
    narrow = {"training_spacing_range_mm": {"in_plane": [0.9, 1.4], "slice": [2.0, 3.0]}}
    fired, quality = _fired(ct, narrow)
    assert fired == {"pixel_size", "slice_spacing"}
    assert quality.facts["spacing"]["trained_range_source"] == "model package"
    # No range in the package: SegTHOR's acquisition range is assumed, and said so.
    ranges, recorded = training_spacing_range({})
    assert not recorded and ranges["in_plane"] == (0.90, 1.37)
    messages = [w.message for w in quality.warnings]
    assert all("the model's trained range" in m for m in messages), messages
    # ... and the message does not pass SegTHOR's range off as the model's (a package trained on other data).
    _, assumed = _fired(ct, {})
    messages = [w.message for w in assumed.warnings if w.check in ("pixel_size", "slice_spacing")]
    assert messages and all("SegTHOR's acquisition range (the model records none)" in m for m in messages)


def test_pixels_finer_than_the_trained_range_are_fine_when_the_recipe_averages_them():
    # The real development CT (0.78 mm pixels) was told "outside the model's trained range (0.9-2.78 mm)": the
    # most common diagnostic reconstruction warned on every run, although fast2d averages 2 x 2 of its pixels
    # (1.56 mm) before the network sees them.
    ct = make_thorax()[0]
    ct = Volume(ct.array, (0.78, 0.78, ct.spacing[2]), ct.origin, ct.direction)
    trained = {"in_plane": [0.9, 2.78], "slice": [0.5, 10.0]}
    averaging = {"training_spacing_range_mm": trained, "preprocessing": RECIPES["fast2d"].to_dict()}
    fired, quality = _fired(ct, averaging)
    assert "pixel_size" not in fired
    assert quality.facts["spacing"]["averaged_pixel_mm"] == [1.56, 1.56]
    linear_only = dict(averaging, preprocessing=RECIPES["fast2d"].with_changes(area_average=False).to_dict())
    assert "pixel_size" in _fired(ct, linear_only)[0]
    native = dict(averaging, preprocessing=RECIPES["zscore"].to_dict())  # keeps the CT's own pixels
    assert "pixel_size" in _fired(ct, native)[0]
    assert averaged_pixel_mm(0.78, {"preprocessing": "not a recipe"}) == 0.78


def test_bundled_models_record_their_training_spacing():
    import json
    from pathlib import Path

    files = sorted((Path(__file__).parents[2] / "SegTHORSlicer" / "Resources" / "Models").glob("*/model.json"))
    assert files
    for path in files:
        _, recorded = training_spacing_range(json.loads(path.read_text(encoding="utf-8")))
        assert recorded, path


def _rotated(ct: Volume, degrees: float, axis: str = "x") -> Volume:
    a = np.radians(degrees)
    c, s = np.cos(a), np.sin(a)
    rot = np.array([[1, 0, 0], [0, c, -s], [0, s, c]]) if axis == "x" else np.eye(3)
    return Volume(ct.array, ct.spacing, ct.origin, rot)


def test_tilted_slices_are_oblique():
    fired, _ = _fired(_rotated(make_thorax()[0], 12.0))
    assert "oblique" in fired and "non_axial" not in fired


def test_coronal_acquisition_is_not_axial():
    ct = make_thorax()[0]
    # Store it as a coronal acquisition: image axes L, S, P (so slices are stacked front to back).
    coronal = Volume(
        np.ascontiguousarray(np.transpose(ct.array, (1, 0, 2))),
        ct.spacing,
        ct.origin,
        np.array([[1.0, 0, 0], [0, 0, 1.0], [0, 1.0, 0]]),
    )
    fired, _ = _fired(coronal)
    assert fired == {"non_axial"}  # the anatomy is still found: the checks view it in the patient frame


def test_patient_frame_undoes_flips_and_permutations():
    ct = make_thorax()[0]
    # Stored with image x (array axis 2) = S, image y = P, image z (array axis 0) = -L.
    array = np.ascontiguousarray(np.transpose(ct.array, (2, 1, 0))[::-1])
    flipped = Volume(array, ct.spacing, ct.origin, np.array([[0, 0, -1.0], [0, 1.0, 0], [1.0, 0, 0]]))
    np.testing.assert_array_equal(PatientFrame.of(flipped).view(flipped.array), ct.array)


@pytest.mark.parametrize(("blood", "phase"), [(40.0, "non-contrast"), (140.0, "venous"), (320.0, "arterial")])
def test_contrast_phase_estimate(blood, phase):
    fired, quality = _fired(make_thorax(blood_hu=blood)[0])
    assert quality.facts["contrast"]["phase_estimate"] == phase
    assert "contrast_phase" not in fired


def test_contrast_phase_the_model_was_not_trained_on():
    metadata = {**METADATA, "training_contrast_phases": ["non-contrast"]}
    fired, quality = _fired(make_thorax(blood_hu=320.0)[0], metadata)
    assert fired == {"contrast_phase"}
    assert "arterial" in quality.warnings[0].message


@pytest.mark.parametrize(("spacing", "word"), [((12.0, 12.0, 5.0), "pixels"), ((5.0, 5.0, 30.0), "between slices")])
def test_coarse_voxels_are_refused_in_one_line(spacing, word):
    ct = make_thorax()[0]
    with pytest.raises(InputError, match=word) as info:
        check_input(Volume(ct.array, spacing), METADATA, name="coarse.nii.gz")
    assert "\n" not in str(info.value) and "coarse.nii.gz" in str(info.value)


def test_tight_crop_through_the_lungs_says_why_no_lungs_were_found():
    ct = make_thorax()[0]
    crop = Volume(np.ascontiguousarray(ct.array[:, 14:44, 4:28]), ct.spacing)  # through chest wall and right lung
    fired, quality = _fired(crop)
    assert fired == {"fov_cuts_body", "outside_thorax"}
    assert "cut so tightly" in next(w.message for w in quality.warnings if w.check == "outside_thorax")
